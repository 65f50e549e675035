package org.peft4j.graph;

import java.util.List;
import java.util.ServiceLoader;

/** The {@link ShapeInference.Provider}s on the class path, loaded once on first use. */
final class ShapeInferenceProviders {
    static final List<ShapeInference.Provider> ALL = ServiceLoader.load(ShapeInference.Provider.class,
            ShapeInference.Provider.class.getClassLoader()).stream().map(ServiceLoader.Provider::get).toList();

    private ShapeInferenceProviders() {
    }
}
