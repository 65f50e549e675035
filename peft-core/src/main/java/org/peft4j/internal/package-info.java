/**
 * Implementation details shared by peft4j's modules, not part of its API: they may change in any release. Here
 * peft4j keeps its one JSON library, Gson, out of the public signatures: strict parsing of config files
 * ({@link org.peft4j.internal.StrictGson}) and the conversion between Gson's trees and the plain Java values
 * (maps, lists, strings, numbers, booleans) the public API uses ({@link org.peft4j.internal.PlainJson}).
 */
package org.peft4j.internal;
