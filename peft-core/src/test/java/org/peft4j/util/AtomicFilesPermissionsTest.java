package org.peft4j.util;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files written through AtomicFiles (adapter_config.json, README.md, config.json, trainer_state.json, loss.png) get
 * the permissions the umask gives any new file, as the .safetensors next to them do, not owner-only 0600.
 */
class AtomicFilesPermissionsTest {
    @TempDir
    Path dir;

    @BeforeEach
    void posixOnly() {
        assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"), "POSIX file system");
    }

    /** The reference: what a plain new file gets here (the umask's permissions), independent of AtomicFiles. */
    private Set<PosixFilePermission> umaskPermissions() throws Exception {
        Path plain = Files.writeString(dir.resolve("plain.txt"), "x");
        return Files.getPosixFilePermissions(plain);
    }

    @Test
    void newFileGetsTheUmaskPermissions() throws Exception {
        Set<PosixFilePermission> expected = umaskPermissions();
        Path config = dir.resolve("adapter_config.json");
        AtomicFiles.writeString(config, "{}");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(config)))
                .isEqualTo(PosixFilePermissions.toString(expected));
        assertThat(Files.readString(config)).isEqualTo("{}");
    }

    @Test
    void groupAndOthersCanReadUnderTheUsualUmask() throws Exception {
        // under umask 022 (the usual one, and this machine's when the plain file is rw-r--r--) others can read
        assumeTrue(PosixFilePermissions.toString(umaskPermissions()).equals("rw-r--r--"), "umask 022");
        Path config = dir.resolve("config.json");
        AtomicFiles.writeString(config, "{\"a\": 1}");
        AtomicFiles.writeString(config, "{\"a\": 2}");
        assertThat(Files.getPosixFilePermissions(config))
                .contains(PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ);
    }

    @Test
    void noTemporaryFileIsLeftBehind() throws Exception {
        AtomicFiles.writeString(dir.resolve("README.md"), "hello");
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("README.md");
        }
    }
}
