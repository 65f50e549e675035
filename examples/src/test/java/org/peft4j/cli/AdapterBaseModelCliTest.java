package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code generate} and {@code merge} without {@code --model}: the adapter's {@code base_model_name_or_path} picks the
 * base, the embedded default only when the adapter names it, and a name that is no local folder is a usage error.
 */
class AdapterBaseModelCliTest {
    @Test
    void adapterNamingItsBaseFolderNeedsNoModelOption(@TempDir Path tmp) throws Exception {
        Path model = CliFixtures.tinyModel(tmp.resolve("model"));
        Path adapter = CliFixtures.randomAdapter(model, tmp.resolve("adapter"));
        CliFixtures.Run g = CliFixtures.run("generate", "--adapter", adapter.toString(), "--prompt", "Hi",
                "--max-new-tokens", "2");
        assertThat(g.exitCode()).as(g.toString()).isZero();
        assertThat(g.out()).contains("model:   " + model);
        CliFixtures.Run m = CliFixtures.run("merge", "--adapter", adapter.toString(), "--output-dir",
                tmp.resolve("merged").toString());
        assertThat(m.exitCode()).as(m.toString()).isZero();
        assertThat(m.out()).contains("into " + model);
    }

    @Test
    void aBaseThatIsNoLocalFolderIsAUsageErrorNamingTheField(@TempDir Path tmp) throws Exception {
        Path model = CliFixtures.tinyModel(tmp.resolve("model"));
        Path adapter = CliFixtures.randomAdapter(model, tmp.resolve("adapter"));
        Path config = adapter.resolve("adapter_config.json");
        Files.writeString(config, Files.readString(config).replace(model.toString(), "some-org/some-model"));
        for (String cmd : new String[] {"generate", "merge"}) {
            CliFixtures.Run r = cmd.equals("merge")
                    ? CliFixtures.run(cmd, "--adapter", adapter.toString(), "--output-dir",
                            tmp.resolve("m").toString())
                    : CliFixtures.run(cmd, "--adapter", adapter.toString(), "--prompt", "Hi");
            assertThat(r.exitCode()).as(r.toString()).isNotZero();
            assertThat(r.err()).contains("base_model_name_or_path").contains("some-org/some-model")
                    .contains("--model");
        }
    }
}
