package org.peft4j.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/** The HTTP side of {@link HfHub}: metadata request, resumable blob download, cache placement. */
final class HubDownloader {

    /** The Hub answered 404 EntryNotFound for a file of an existing repo. */
    static final class EntryNotFound extends HubException {
        private static final long serialVersionUID = 1L;

        EntryNotFound(String message) {
            super(message);
        }
    }

    private static final int MAX_REDIRECTS = 10;

    private final HubSettings settings;
    private final HttpClient client;
    PrintStream progressOut = System.console() != null ? System.err : null;

    HubDownloader(HubSettings settings) {
        this.settings = settings;
        this.client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** {@code location}: where the blob is; {@code source}: the resolve URL asked (for the Authorization rule). */
    private record Metadata(String commit, String etag, URI location, long size, URI source) {}

    Path download(Path repoFolder, String repoId, String filename, String revision) {
        URI url = URI.create(settings.endpoint() + "/" + repoId + "/resolve/"
                + URLEncoder.encode(revision, StandardCharsets.UTF_8) + "/" + encodePath(filename));
        try {
            Metadata meta = metadata(url, repoFolder, repoId, filename, revision);
            if (!meta.etag().matches("[A-Za-z0-9][A-Za-z0-9_-]*")) { // becomes a file name under blobs/
                throw new HubException("Distant resource for '" + filename + "' of repo '" + repoId + "' has an "
                        + "ETag that cannot name a blob file: '" + meta.etag() + "'");
            }
            Path blob = repoFolder.resolve("blobs").resolve(meta.etag());
            Path pointer = repoFolder.resolve("snapshots").resolve(meta.commit()).resolve(filename);
            Path snapshots = repoFolder.resolve("snapshots").toAbsolutePath().normalize();
            if (!pointer.toAbsolutePath().normalize().startsWith(snapshots)) {
                // huggingface_hub's check (e.g. a shard name "../x" in a model.safetensors.index.json)
                throw new HubException("Invalid pointer path: cannot create pointer path in snapshot folder if"
                        + " `storage_folder='" + repoFolder + "'`, `revision='" + meta.commit() + "'` and"
                        + " `relative_filename='" + filename + "'`.");
            }
            Files.createDirectories(blob.getParent());
            Files.createDirectories(pointer.getParent());
            if (!HfHub.isCommitHash(revision)) {
                writeRef(repoFolder, revision, meta.commit());
            }
            try (BlobLock lock = BlobLock.acquire(lockFile(repoFolder, meta.etag()))) {
                if (!Files.exists(blob)) {
                    fetchBlob(meta, blob, repoId, filename);
                }
                link(blob, pointer);
            }
            return pointer;
        } catch (IOException e) {
            throw new HubException("Could not download '" + filename + "' of repo '" + repoId + "' from " + url
                    + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException("Interrupted while downloading '" + filename + "' of repo '" + repoId + "'", e);
        }
    }

    /**
     * HEAD with manual redirects, keeping the first X-Repo-Commit / X-Linked-Etag seen (the Hub's 302 has them).
     * As huggingface_hub's {@code _httpx2_follow_hub_redirects_with_backoff}, only redirects that stay on the Hub
     * ({@link #sameOrHubHost}) are followed: a redirect to any other host (a CDN's signed URL) ends the metadata
     * request there, its target becoming the blob's location, so the Authorization header never leaves the Hub.
     */
    private Metadata metadata(URI url, Path repoFolder, String repoId, String filename, String revision)
            throws IOException, InterruptedException {
        String commit = null;
        String etag = null;
        long size = -1;
        URI current = url;
        for (int i = 0; i <= MAX_REDIRECTS; i++) {
            HttpResponse<Void> r = client.send(request(current, true)
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).header("Accept-Encoding", "identity")
                    .build(), HttpResponse.BodyHandlers.discarding());
            Optional<String> c = r.headers().firstValue("X-Repo-Commit");
            if (commit == null && c.isPresent()) {
                commit = c.get();
            }
            Optional<String> e = r.headers().firstValue("X-Linked-Etag").or(() -> r.headers().firstValue("ETag"));
            if (etag == null && e.isPresent()) {
                etag = normalizeEtag(e.get());
            }
            if (size < 0) {
                size = r.headers().firstValueAsLong("X-Linked-Size").orElse(-1);
            }
            int status = r.statusCode();
            if (status >= 300 && status < 400) {
                URI target = current.resolve(r.headers().firstValue("Location").orElseThrow(
                        () -> new IOException("redirect without Location")));
                if (sameOrHubHost(current, target)) {
                    current = target;
                    continue;
                }
                current = target; // off the Hub: the metadata is on this redirect response
            } else if (status >= 400) {
                throw error(status, r.headers().firstValue("X-Error-Code").orElse(""), r.headers()
                        .firstValue("X-Error-Message").orElse(""), commit, repoFolder, repoId, filename, revision, url);
            }
            if (size < 0 && status < 300) {
                size = r.headers().firstValueAsLong("Content-Length").orElse(-1);
            }
            if (commit == null || etag == null) {
                throw new HubException("Distant resource for '" + filename + "' of repo '" + repoId + "' does not "
                        + "seem to be on huggingface.co: no X-Repo-Commit or ETag header (" + url + ").");
            }
            return new Metadata(commit, etag, current, size, url);
        }
        throw new IOException("too many redirects");
    }

    private HubException error(int status, String code, String message, String commit, Path repoFolder,
            String repoId, String filename, String revision, URI url) throws IOException {
        if (status == 404 && "EntryNotFound".equals(code)) {
            if (commit != null) {
                Path marker = repoFolder.resolve(".no_exist").resolve(commit).resolve(filename);
                Files.createDirectories(marker.getParent());
                if (!Files.exists(marker)) {
                    Files.createFile(marker);
                }
                if (!HfHub.isCommitHash(revision)) {
                    writeRef(repoFolder, revision, commit);
                }
            }
            return new EntryNotFound("404 Client Error: Entry Not Found for url: " + url + ". File '" + filename
                    + "' does not exist in repo '" + repoId + "' at revision '" + revision + "'.");
        }
        if (status == 404 && "RevisionNotFound".equals(code)) {
            return new HubException("404 Client Error: Revision Not Found for url: " + url + ". Invalid revision '"
                    + revision + "' of repo '" + repoId + "'.");
        }
        if ("GatedRepo".equals(code)) {
            return new HubException(status + " Client Error: Cannot access gated repo for url " + url + ". Access to "
                    + "model " + repoId + " is restricted. You must have access to it and be authenticated "
                    + "(HF_TOKEN or " + "HF_HOME/token) to access it. " + message);
        }
        if (status == 401 || status == 403 || status == 404) {
            return new HubException(status + " Client Error: Repository Not Found for url: " + url + ". Please make "
                    + "sure you specified the correct `repo_id` ('" + repoId + "'). If you are trying to access a "
                    + "private or gated repo, make sure you are authenticated (HF_TOKEN"
                    + (settings.token() == null ? ", none is set" : ", the token sent was refused") + ").");
        }
        return new HubException(status + " Server Error for url: " + url + " (file '" + filename + "' of repo '"
                + repoId + "'). " + message);
    }

    /** GET into blobs/{etag}.incomplete (resuming with a Range request), then an atomic rename to the blob. */
    private void fetchBlob(Metadata meta, Path blob, String repoId, String filename)
            throws IOException, InterruptedException {
        Path incomplete = blob.resolveSibling(blob.getFileName() + ".incomplete");
        long have = Files.exists(incomplete) ? Files.size(incomplete) : 0;
        URI current = meta.location();
        // huggingface_hub: a blob on another host than the resolve URL's (and not a Hub host) is a signed CDN URL,
        // fetched without the token; a further redirect drops it when it leaves the origin (as httpx does)
        boolean auth = sameOrHubHost(meta.source(), current);
        HttpResponse<InputStream> r = null;
        for (int i = 0; i <= MAX_REDIRECTS; i++) {
            HttpRequest.Builder b = request(current, auth).GET().header("Accept-Encoding", "identity");
            if (have > 0) {
                b.header("Range", "bytes=" + have + "-");
            }
            r = client.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            if (r.statusCode() >= 300 && r.statusCode() < 400) {
                r.body().close();
                URI target = current.resolve(r.headers().firstValue("Location").orElseThrow());
                auth = auth && origin(current).equals(origin(target));
                current = target;
                continue;
            }
            break;
        }
        int status = r.statusCode();
        if (status == 416 && meta.size() >= 0 && have == meta.size()) {
            r.body().close();
        } else if (status != 200 && status != 206) {
            r.body().close();
            throw new IOException("HTTP " + status);
        } else {
            boolean append = status == 206;
            long done = append ? have : 0;
            ProgressLine bar = progressOut == null ? null : new ProgressLine(progressOut, filename, meta.size());
            try (InputStream in = r.body(); OutputStream out = Files.newOutputStream(incomplete,
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) > 0) {
                    out.write(buf, 0, n);
                    done += n;
                    if (bar != null) {
                        bar.update(done);
                    }
                }
            }
            if (bar != null) {
                bar.finish(done);
            }
        }
        if (meta.size() >= 0 && Files.size(incomplete) != meta.size()) {
            throw new IOException("consistency check failed: file should be of size " + meta.size() + " but has size "
                    + Files.size(incomplete) + " (" + filename + "); retry to resume");
        }
        try {
            Files.move(incomplete, blob, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(incomplete, blob, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private HttpRequest.Builder request(URI uri, boolean auth) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60))
                .header("User-Agent", "peft4j; hf_hub/java");
        if (auth && settings.token() != null) {
            b.header("Authorization", "Bearer " + settings.token());
        }
        return b;
    }

    /** The Hub's own origins besides the endpoint (huggingface_hub's {@code _HUB_ORIGINS}). */
    private static final List<String> HUB_ENDPOINTS = List.of("https://huggingface.co",
            "https://hub-ci.huggingface.co", "https://hf.co");

    /**
     * huggingface_hub's {@code _is_same_or_hub_host(url, target)}: whether {@code target} has the origin of
     * {@code url} or of a Hub endpoint ({@code HF_ENDPOINT} included), so that the token may be sent to it.
     */
    boolean sameOrHubHost(URI url, URI target) {
        List<String> o = origin(target);
        if (o.equals(origin(url)) || o.equals(origin(URI.create(settings.endpoint())))) {
            return true;
        }
        for (String hub : HUB_ENDPOINTS) {
            if (o.equals(origin(URI.create(hub)))) {
                return true;
            }
        }
        return false;
    }

    /** huggingface_hub's {@code _url_origin}: scheme, lower-cased host, port (the scheme's default if none). */
    static List<String> origin(URI uri) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        int port = uri.getPort() >= 0 ? uri.getPort() : "https".equals(scheme) ? 443 : "http".equals(scheme) ? 80 : 0;
        return List.of(scheme, uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT),
                Integer.toString(port));
    }

    /**
     * huggingface_hub's lock for one blob: {@code <cache>/.locks/<repo folder>/<etag>.lock} (the etag, not the file
     * name: two files of a repo with the same content share a blob).
     */
    static Path lockFile(Path repoFolder, String etag) {
        return repoFolder.getParent().resolve(".locks").resolve(repoFolder.getFileName().toString())
                .resolve(etag + ".lock");
    }

    /**
     * The blob lock held while a blob is downloaded and linked, as huggingface_hub's {@code WeakFileLock}: an OS file
     * lock ({@link FileLock}) keeps a second process from writing the same {@code .incomplete} file, and, since a
     * JVM holds one file lock per file, a lock object per lock file keeps a second thread of this process waiting.
     */
    static final class BlobLock implements AutoCloseable {
        private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();
        private final ReentrantLock local;
        private final FileChannel channel;
        private final FileLock fileLock;

        private BlobLock(ReentrantLock local, FileChannel channel, FileLock fileLock) {
            this.local = local;
            this.channel = channel;
            this.fileLock = fileLock;
        }

        static BlobLock acquire(Path file) throws IOException {
            Path key = file.toAbsolutePath().normalize();
            ReentrantLock local = IN_PROCESS.computeIfAbsent(key, k -> new ReentrantLock());
            local.lock();
            FileChannel channel = null;
            try {
                Files.createDirectories(key.getParent());
                channel = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                return new BlobLock(local, channel, channel.lock());
            } catch (IOException | RuntimeException | Error e) {
                if (channel != null) {
                    channel.close();
                }
                local.unlock();
                throw e;
            }
        }

        @Override
        public void close() {
            try {
                try {
                    fileLock.release();
                    channel.close();
                } finally {
                    local.unlock();
                }
            } catch (IOException e) {
                throw org.peft4j.FileAccessException.of("close", null, e);
            }
        }
    }

    static void writeRef(Path repoFolder, String revision, String commit) throws IOException {
        Path ref = repoFolder.resolve("refs").resolve(revision);
        if (Files.isRegularFile(ref) && Files.readString(ref, StandardCharsets.UTF_8).equals(commit)) {
            return;
        }
        Files.createDirectories(ref.getParent());
        Path tmp = Files.createTempFile(ref.getParent(), ".ref", ".tmp");
        Files.writeString(tmp, commit, StandardCharsets.UTF_8);
        Files.move(tmp, ref, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** A relative symlink snapshots/{commit}/{file} -> ../../blobs/{etag} (a copy where links are not allowed). */
    private static void link(Path blob, Path pointer) throws IOException {
        if (Files.exists(pointer)) {
            return;
        }
        Path target = pointer.getParent().relativize(blob);
        try {
            Files.deleteIfExists(pointer);
            Files.createSymbolicLink(pointer, target);
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(blob, pointer, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** huggingface_hub's {@code _normalize_etag}: drops a weak {@code W/} prefix and the quotes. */
    static String normalizeEtag(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        return e.replaceAll("^\"|\"$", "");
    }

    private static String encodePath(String filename) {
        StringBuilder sb = new StringBuilder();
        for (String part : filename.split("/")) {
            if (sb.length() > 0) {
                sb.append('/');
            }
            sb.append(URLEncoder.encode(part, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return sb.toString();
    }

    /** A one-line download progress display, used only on a terminal. */
    private static final class ProgressLine {
        private final PrintStream out;
        private final String name;
        private final long total;
        private long lastDraw;

        ProgressLine(PrintStream out, String name, long total) {
            this.out = out;
            this.name = name;
            this.total = total;
        }

        void update(long done) {
            long now = System.nanoTime();
            if (now - lastDraw > 100_000_000L) {
                lastDraw = now;
                draw(done);
            }
        }

        void finish(long done) {
            draw(done);
            out.println();
        }

        private void draw(long done) {
            String pct = total > 0 ? String.format(" %3d%%", done * 100 / total) : "";
            out.print("\r" + name + ":" + pct + " " + done / 1024 + " KiB" + (total > 0 ? "/" + total / 1024 + " KiB"
                    : ""));
            out.flush();
        }
    }
}
