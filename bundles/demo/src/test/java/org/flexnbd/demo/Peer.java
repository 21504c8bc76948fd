package org.flexnbd.demo;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a real NBD tool to completion, bounded in time, with /usr/bin first on its PATH. */
final class Peer {
    private Peer() {
    }

    record Result(int exit, String output) {
    }

    static boolean installed(String program) {
        return Files.isExecutable(Path.of("/usr/bin", program));
    }

    static Result run(long timeoutSeconds, List<String> command) throws IOException, InterruptedException {
        File log = File.createTempFile("peer", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(log));
            // The python3 first on PATH may lack the libnbd module that nbdsh needs.
            pb.environment().put("PATH", "/usr/bin:" + pb.environment().getOrDefault("PATH", ""));
            pb.environment().remove("PYTHONHOME");
            pb.environment().remove("PYTHONPATH");
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                ProcessHandle.of(p.pid()).ifPresent(ProcessHandle::destroyForcibly);
                p.waitFor(10, TimeUnit.SECONDS);
                throw new IOException(command.get(0) + " did not finish in " + timeoutSeconds + " s: "
                        + Files.readString(log.toPath(), StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(log.toPath(), StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log.toPath());
        }
    }

    static Result run(List<String> command) throws IOException, InterruptedException {
        return run(60, command);
    }
}
