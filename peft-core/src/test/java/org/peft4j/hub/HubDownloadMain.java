package org.peft4j.hub;

import java.nio.file.Path;

/** A second process for HfHubTest's lock test: downloads {@code args[3]} of repo {@code args[2]}. */
final class HubDownloadMain {
    private HubDownloadMain() {
    }

    public static void main(String[] args) {
        HubSettings settings = new HubSettings(Path.of(args[0]), args[1], "hf_secret", false);
        System.out.println(new HfHub(settings).download(args[2], args[3], "main"));
    }
}
