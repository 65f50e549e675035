package org.peft4j.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link HfHub} against a loopback server that answers like the Hub's {@code /resolve/} endpoint (302 to a CDN path
 * carrying X-Repo-Commit / X-Linked-Etag / X-Linked-Size, Range on the CDN, 401 and 404 with X-Error-Code), and the
 * cache layout huggingface_hub's file_download.py reads.
 */
class HfHubTest {
    static final String REPO = "org-a/tiny-model";
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path home;
    HttpServer server;
    final Map<String, byte[]> files = new LinkedHashMap<>();
    final List<String> log = Collections.synchronizedList(new ArrayList<>());
    String requiredToken;
    /** Where the resolve endpoint's 302 points: null for a relative /cdn/ path on the same server. */
    String cdnBase;
    /** Milliseconds the CDN waits before sending a body (to make two downloads overlap). */
    volatile long cdnDelayMs;
    /** Counted down by each GET the CDN answers. */
    final java.util.concurrent.CountDownLatch cdnGet = new java.util.concurrent.CountDownLatch(1);

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    HfHub hub(boolean offline) {
        return new HfHub(new HubSettings(home.resolve("hub"), endpoint(), "hf_secret", offline));
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        log.add(ex.getRequestMethod() + " " + path + " auth=" + ex.getRequestHeaders().getFirst("Authorization")
                + " range=" + ex.getRequestHeaders().getFirst("Range"));
        boolean head = ex.getRequestMethod().equals("HEAD");
        String prefix = "/" + REPO + "/resolve/";
        try {
            if (path.startsWith(prefix)) {
                if (requiredToken != null
                        && !("Bearer " + requiredToken).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                    ex.getResponseHeaders().add("X-Error-Code", "RepoNotFound");
                    ex.sendResponseHeaders(401, -1);
                    return;
                }
                String rest = path.substring(prefix.length());
                String rev = rest.substring(0, rest.indexOf('/'));
                String file = rest.substring(rest.indexOf('/') + 1);
                if (!rev.equals("main") && !rev.equals(COMMIT)) {
                    ex.getResponseHeaders().add("X-Error-Code", "RevisionNotFound");
                    ex.sendResponseHeaders(404, -1);
                    return;
                }
                ex.getResponseHeaders().add("X-Repo-Commit", COMMIT);
                byte[] body = files.get(file);
                if (body == null) {
                    ex.getResponseHeaders().add("X-Error-Code", "EntryNotFound");
                    ex.sendResponseHeaders(404, -1);
                    return;
                }
                String sha = sha256(body);
                ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha + "\"");
                ex.getResponseHeaders().add("X-Linked-Size", Long.toString(body.length));
                ex.getResponseHeaders().add("ETag", "W/\"not-the-blob-name\"");
                ex.getResponseHeaders().add("Location", (cdnBase == null ? "" : cdnBase) + "/cdn/" + file);
                ex.sendResponseHeaders(302, -1);
                return;
            }
            if (path.startsWith("/cdn/")) {
                byte[] body = files.get(path.substring(5));
                String range = ex.getRequestHeaders().getFirst("Range");
                int from = range == null ? 0 : Integer.parseInt(range.substring(6, range.length() - 1));
                int code = range == null ? 200 : 206;
                if (head) {
                    ex.getResponseHeaders().add("Content-Length", Integer.toString(body.length));
                    ex.sendResponseHeaders(200, -1);
                    return;
                }
                cdnGet.countDown();
                Thread.sleep(cdnDelayMs);
                ex.sendResponseHeaders(code, body.length - from);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body, from, body.length - from);
                }
                return;
            }
            ex.sendResponseHeaders(404, -1);
        } catch (Exception e) {
            throw new IOException(e);
        } finally {
            ex.close();
        }
    }

    @Test
    void downloadPlacesBlobSnapshotLinkAndRefAsHuggingfaceHub() throws Exception {
        byte[] config = "{\"model_type\":\"llama\"}".getBytes(StandardCharsets.UTF_8);
        files.put("config.json", config);
        Path p = hub(false).download(REPO, "config.json", null);
        Path repo = home.resolve("hub/models--org-a--tiny-model");
        String sha = sha256(config);
        assertEquals(repo.resolve("snapshots/" + COMMIT + "/config.json"), p);
        assertTrue(Files.isSymbolicLink(p));
        assertEquals(Path.of("../../blobs/" + sha), Files.readSymbolicLink(p));
        assertArrayEquals(config, Files.readAllBytes(repo.resolve("blobs/" + sha)));
        assertEquals(COMMIT, Files.readString(repo.resolve("refs/main")));
        assertArrayEquals(config, Files.readAllBytes(p));
        assertTrue(log.stream().allMatch(l -> !l.contains("/resolve/") || l.contains("auth=Bearer hf_secret")), log::toString);
    }

    @Test
    void cacheHitNeedsNoServerAndOfflineNamesTheMissingFile() throws Exception {
        files.put("config.json", "{}".getBytes(StandardCharsets.UTF_8));
        hub(false).download(REPO, "config.json", "main");
        server.stop(0);
        HfHub offline = hub(true);
        assertEquals("{}", Files.readString(offline.download(REPO, "config.json", "main")));
        HfHub online = hub(false);
        assertEquals("{}", Files.readString(online.download(REPO, "config.json", "main")));
        assertEquals("{}", Files.readString(online.download(REPO, "config.json", COMMIT)));
        HubException e = assertThrows(HubException.class, () -> offline.download(REPO, "model.safetensors", "main"));
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains(REPO), e.getMessage());
        assertTrue(offline.downloadIfExists(REPO, "tokenizer.json", "main").isEmpty());
    }

    @Test
    void resumesFromIncompleteBlobWithRangeRequest() throws Exception {
        byte[] weights = new byte[200_000];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (byte) (i * 31 + 7);
        }
        files.put("model.safetensors", weights);
        Path blobs = Files.createDirectories(home.resolve("hub/models--org-a--tiny-model/blobs"));
        Path incomplete = blobs.resolve(sha256(weights) + ".incomplete");
        Files.write(incomplete, java.util.Arrays.copyOf(weights, 70_000));
        Path p = hub(false).download(REPO, "model.safetensors", "main");
        assertArrayEquals(weights, Files.readAllBytes(p));
        assertFalse(Files.exists(incomplete));
        assertTrue(log.stream().anyMatch(l -> l.startsWith("GET /cdn/model.safetensors") && l.endsWith("range=bytes=70000-")), log::toString);
    }

    @Test
    void commitRevisionWritesNoRef() throws Exception {
        files.put("config.json", "{}".getBytes(StandardCharsets.UTF_8));
        Path p = hub(false).download(REPO, "config.json", COMMIT);
        assertTrue(p.endsWith(Path.of("snapshots", COMMIT, "config.json")));
        assertFalse(Files.exists(home.resolve("hub/models--org-a--tiny-model/refs")));
    }

    @Test
    void unauthorizedAndNotFoundAreClear() throws Exception {
        files.put("config.json", "{}".getBytes(StandardCharsets.UTF_8));
        requiredToken = "other";
        HubException e = assertThrows(HubException.class, () -> hub(false).download(REPO, "config.json", "main"));
        assertTrue(e.getMessage().startsWith("401 Client Error: Repository Not Found") && e.getMessage().contains("private or gated"), e.getMessage());
        requiredToken = null;
        HubException rev = assertThrows(HubException.class, () -> hub(false).download(REPO, "config.json", "v9"));
        assertTrue(rev.getMessage().contains("Revision Not Found"), rev.getMessage());
        HfHub hub = hub(false);
        HubException missing = assertThrows(HubException.class, () -> hub.download(REPO, "nope.json", "main"));
        assertTrue(missing.getMessage().contains("Entry Not Found") && missing.getMessage().contains("nope.json"));
        assertTrue(Files.exists(home.resolve("hub/models--org-a--tiny-model/.no_exist/" + COMMIT + "/nope.json")));
        assertTrue(hub.isCachedNonExistent(REPO, "nope.json", "main"));
        assertEquals(Optional.empty(), hub.downloadIfExists(REPO, "nope.json", "main"));
    }

    @Test
    void modelSnapshotFetchesConfigTokenizerAndShards() throws Exception {
        files.put("config.json", "{}".getBytes(StandardCharsets.UTF_8));
        files.put("tokenizer.json", "{\"model\":{}}".getBytes(StandardCharsets.UTF_8));
        files.put("model.safetensors.index.json", ("{\"metadata\":{\"total_size\":4},\"weight_map\":{\"a.weight\":"
                + "\"model-00001-of-00002.safetensors\",\"b.weight\":\"model-00002-of-00002.safetensors\"}}")
                .getBytes(StandardCharsets.UTF_8));
        files.put("model-00001-of-00002.safetensors", new byte[] {1, 2});
        files.put("model-00002-of-00002.safetensors", new byte[] {3, 4});
        Path snap = hub(false).snapshotForModel(REPO, null);
        assertEquals(home.resolve("hub/models--org-a--tiny-model/snapshots/" + COMMIT), snap);
        for (String f : files.keySet()) {
            assertArrayEquals(files.get(f), Files.readAllBytes(snap.resolve(f)), f);
        }
        assertTrue(Files.exists(snap.getParent().getParent().resolve(".no_exist/" + COMMIT + "/model.safetensors")));
    }

    /** The tree equals the one the real huggingface_hub built from the same server (interop/hub_cache_layout.py). */
    @Test
    void cacheTreeMatchesHuggingfaceHubFixture() throws Exception {
        files.put("config.json", "{\"model_type\":\"llama\"}".getBytes(StandardCharsets.UTF_8));
        byte[] weights = new byte[5000];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (byte) ((i * 31 + 7) % 256);
        }
        files.put("model.safetensors", weights);
        HfHub hub = hub(false);
        hub.download(REPO, "config.json", null);
        hub.download(REPO, "model.safetensors", null);
        assertTrue(hub.downloadIfExists(REPO, "generation_config.json", null).isEmpty());
        Path cache = home.resolve("hub");
        List<String> lines = new ArrayList<>();
        try (var walk = Files.walk(cache)) {
            for (Path p : (Iterable<Path>) walk.skip(1)::iterator) {
                String rel = cache.relativize(p).toString();
                if (rel.startsWith(".locks")) {
                    // as interop/hub_cache_layout.py lists the tree: the lock files (checked by
                    // twoConcurrentDownloadsOfOneFileShareTheBlobLock) are left out of the fixture
                    continue;
                }
                if (Files.isSymbolicLink(p)) {
                    lines.add(rel + " -> " + Files.readSymbolicLink(p));
                } else if (Files.isRegularFile(p) && rel.contains("/refs/")) {
                    lines.add(rel + " = " + Files.readString(p));
                } else if (Files.isRegularFile(p)) {
                    lines.add(rel);
                }
            }
        }
        Collections.sort(lines);
        List<String> expected = new ArrayList<>(Files.readAllLines(
                org.peft4j.testutil.Fixtures.root().resolve("hub/cache_tree.txt")));
        expected.remove("CACHEDIR.TAG");
        assertEquals(expected, lines);
    }

    @Test
    void settingsFollowHuggingfaceHubPrecedence() throws Exception {
        Path hfHome = Files.createDirectories(home.resolve("hf"));
        Files.writeString(hfHome.resolve("token"), "hf_fromfile\n");
        HubSettings s = HubSettings.fromEnvironment(Map.of("HF_HOME", hfHome.toString(), "HF_HUB_OFFLINE", "1"));
        assertEquals(hfHome.resolve("hub"), s.hubCache());
        assertEquals("https://huggingface.co", s.endpoint());
        assertEquals("hf_fromfile", s.token());
        assertTrue(s.offline());
        HubSettings t = HubSettings.fromEnvironment(Map.of("HF_HOME", hfHome.toString(), "HF_HUB_CACHE",
                "/x/cache", "HF_TOKEN", "hf_env", "TRANSFORMERS_OFFLINE", "0", "HF_ENDPOINT", "http://h:1/"));
        assertEquals(Path.of("/x/cache"), t.hubCache());
        assertEquals("hf_env", t.token());
        assertEquals("http://h:1", t.endpoint());
        assertFalse(t.offline());
        assertEquals(Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub"),
                HubSettings.fromEnvironment(Map.of()).hubCache());
        assertEquals("models--Qwen--Qwen2.5-0.5B-Instruct", HfHub.repoFolderName("Qwen/Qwen2.5-0.5B-Instruct"));
        assertEquals("abc", HubDownloader.normalizeEtag("W/\"abc\""));
    }

    /** A second loopback server standing for a CDN; its requests are logged as "METHOD path auth=...". */
    HttpServer cdn(List<String> cdnLog) throws IOException {
        HttpServer cdn = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        cdn.createContext("/", ex -> {
            cdnLog.add(ex.getRequestMethod() + " " + ex.getRequestURI().getPath() + " auth="
                    + ex.getRequestHeaders().getFirst("Authorization"));
            handle(ex);
        });
        cdn.start();
        return cdn;
    }

    /**
     * huggingface_hub's rule: the token goes to the resolve endpoint's origin (scheme, host, port) and the Hub's own
     * hosts only; a redirect to another host (a CDN's signed URL) is fetched without it. localhost vs 127.0.0.1 are
     * two hosts; another port on the same host is another origin too.
     */
    @Test
    void authorizationIsNotSentToARedirectTargetOnAnotherHost() throws Exception {
        byte[] body = "{\"hidden_size\": 8}".getBytes(StandardCharsets.UTF_8);
        files.put("config.json", body);
        List<String> cdnLog = Collections.synchronizedList(new ArrayList<>());
        HttpServer cdn = cdn(cdnLog);
        try {
            for (String host : List.of("localhost", "127.0.0.1")) {
                cdnBase = "http://" + host + ":" + cdn.getAddress().getPort();
                log.clear();
                cdnLog.clear();
                Path hubDir = home.resolve("hub-" + host);
                Path p = new HfHub(new HubSettings(hubDir, endpoint(), "hf_secret", false))
                        .download(REPO, "config.json", "main");
                assertArrayEquals(body, Files.readAllBytes(p));
                assertTrue(log.stream().anyMatch(l -> l.contains("/resolve/")), log::toString);
                assertTrue(log.stream().filter(l -> l.contains("/resolve/"))
                        .allMatch(l -> l.endsWith("auth=Bearer hf_secret range=null")), log::toString);
                assertEquals(List.of("GET /cdn/config.json auth=null"), cdnLog, host);
            }
        } finally {
            cdn.stop(0);
        }
        // the same origin keeps it (a relative redirect on the endpoint's server)
        cdnBase = null;
        log.clear();
        hub(false).download(REPO, "config.json", "main");
        assertTrue(log.stream().anyMatch(l -> l.startsWith("GET /cdn/config.json auth=Bearer hf_secret")),
                log::toString);
    }

    /** The shard names are the JSON values of weight_map (transformers' sorted(set(...))), not text that looks so. */
    @Test
    void shardNamesAreReadFromTheIndexJson() throws Exception {
        Path index = home.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"metadata\": {\"note\": \"not-a-shard.safetensors\", \"total_size\": 8},\n"
                + " \"weight_map\": {\"b.weight\": \"model-0000\\u0032-of-00002.safetensors\",\n"
                + "  \"a.weight\": \"model-00001-of-00002.safetensors\", \"c.weight\": "
                + "\"model-00001-of-00002.safetensors\"}}");
        assertEquals(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"),
                HfHub.shardNames(index));
        Files.writeString(index, "{\"metadata\": {}, \"model-1.safetensors\": 1}");
        HubException e = assertThrows(HubException.class, () -> HfHub.shardNames(index));
        assertTrue(e.getMessage().contains(index.toString()) && e.getMessage().contains("weight_map"),
                e.getMessage());
        Files.writeString(index, "{\"weight_map\": {\"a\": \"x.safetensors\"");
        assertTrue(assertThrows(HubException.class, () -> HfHub.shardNames(index)).getMessage()
                .contains(index.toString()));
    }

    /** A shard name that climbs out of the snapshot folder is refused with huggingface_hub's message. */
    @Test
    void aShardNameOutsideTheSnapshotIsRefused() throws Exception {
        files.put("config.json", "{}".getBytes(StandardCharsets.UTF_8));
        files.put("model.safetensors.index.json", "{\"weight_map\": {\"a\": \"../../../evil.safetensors\"}}"
                .getBytes(StandardCharsets.UTF_8));
        files.put("../../../evil.safetensors", new byte[] {1});
        HubException e = assertThrows(HubException.class, () -> hub(false).snapshotForModel(REPO, null));
        assertTrue(e.getMessage().startsWith("Invalid pointer path"), e.getMessage());
        assertFalse(Files.exists(home.resolve("hub/evil.safetensors")));
        assertFalse(Files.exists(home.resolve("evil.safetensors")));
    }

    /**
     * huggingface_hub's .locks/{repo folder}/{etag}.lock: two threads downloading one file at once do not write the
     * same .incomplete file; the second waits for the lock, then finds the blob: the CDN serves it once.
     */
    @Test
    void twoConcurrentDownloadsOfOneFileShareTheBlobLock() throws Exception {
        byte[] body = new byte[300_000];
        new java.util.Random(7).nextBytes(body);
        files.put("model.safetensors", body);
        cdnDelayMs = 300;
        java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            List<java.util.concurrent.Future<Path>> got = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                got.add(pool.submit(() -> {
                    start.await();
                    return hub(false).download(REPO, "model.safetensors", "main");
                }));
            }
            for (java.util.concurrent.Future<Path> f : got) {
                assertArrayEquals(body, Files.readAllBytes(f.get(60, java.util.concurrent.TimeUnit.SECONDS)));
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, log.stream().filter(l -> l.startsWith("GET /cdn/model.safetensors")).count(), log::toString);
        Path repo = home.resolve("hub/models--org-a--tiny-model");
        assertTrue(Files.isRegularFile(home.resolve("hub/.locks/models--org-a--tiny-model/" + sha256(body) + ".lock")));
        assertFalse(Files.exists(repo.resolve("blobs/" + sha256(body) + ".incomplete")));
    }

    /**
     * The same across processes (the OS file lock): a second JVM starts the download; once its GET reached the CDN,
     * this process downloads the same file, waits for the lock and finds the blob: one GET in all.
     */
    @Test
    void aSecondProcessWaitsForTheBlobLock() throws Exception {
        byte[] body = new byte[200_000];
        new java.util.Random(8).nextBytes(body);
        files.put("model.safetensors", body);
        cdnDelayMs = 1500;
        Path cache = home.resolve("hub");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), HubDownloadMain.class.getName(), cache.toString(),
                endpoint(), REPO, "model.safetensors").redirectErrorStream(true);
        Process child = pb.start();
        try {
            assertTrue(cdnGet.await(60, java.util.concurrent.TimeUnit.SECONDS), "the child's GET");
            Path p = hub(false).download(REPO, "model.safetensors", "main");
            assertArrayEquals(body, Files.readAllBytes(p));
            String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(child.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(0, child.exitValue(), out);
            assertTrue(out.strip().endsWith(p.toString()), out);
        } finally {
            child.destroyForcibly();
        }
        assertEquals(1, log.stream().filter(l -> l.startsWith("GET /cdn/model.safetensors")).count(), log::toString);
    }
}
