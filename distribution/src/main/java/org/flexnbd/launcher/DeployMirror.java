package org.flexnbd.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Copies the jars of the installation's deploy/ that {@link TrustedWriters} accepts into a private folder, the one
 * FileInstall watches. FileInstall itself follows symbolic links and loads whatever it finds, so a link in deploy/
 * to a file another user can rewrite would have it install that user's code; here a link, a jar another user owns
 * or can write, and everything in a deploy/ others can write, is refused with an E line instead.
 * <p>
 * A copy replaces the previous one by rename, so FileInstall never sees half a jar; a jar removed from deploy/ is
 * removed from the copy (FileInstall then uninstalls its bundle). A jar refused after an earlier version was
 * accepted leaves that version installed. Runs in the launcher, which is never updated, so the check cannot go
 * away while the framework runs.
 */
final class DeployMirror implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(DeployMirror.class.getName());
    private static final String JAR = ".jar";

    private final Path deploy;
    private final Path mirror;
    private final TrustedWriters trust;
    /** Per jar name: the version of the deploy/ file last copied. */
    private final Map<String, Version> copied = new HashMap<>();
    /** Per name (the folder's under ""): the refusal last logged, so that it is logged once, not at each scan. */
    private final Map<String, String> refused = new HashMap<>();
    private final ScheduledExecutorService scanner;

    /** A file's identity and content stamp: a new one means new content to copy. */
    private record Version(Object fileKey, long size, FileTime modified) {
        static Version of(BasicFileAttributes a) {
            return new Version(a.fileKey(), a.size(), a.lastModifiedTime());
        }
    }

    /**
     * @param deploy the installation's deploy/ folder (it may be missing: then nothing is deployed)
     * @param mirror a folder only the proxy's user can reach, which this creates
     */
    DeployMirror(Path deploy, Path mirror) throws IOException {
        this.deploy = deploy;
        this.mirror = Files.createDirectory(mirror);
        this.trust = TrustedWriters.ownerOf(this.mirror);
        this.scanner = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "deploy-watch");
            t.setDaemon(true);
            return t;
        });
    }

    Path mirror() {
        return mirror;
    }

    /** Scans now (so that FileInstall finds what deploy/ held at start), then every period. */
    void start(Duration period) {
        scan();
        scanner.scheduleWithFixedDelay(this::scan, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** One pass over deploy/; no failure ends the periodic scans. */
    void scan() {
        try {
            if (!Files.isDirectory(deploy)) {
                return;
            }
            Optional<String> folder = trust.refuseFolder(deploy);
            if (folder.isPresent()) {
                refuse("", deploy + ": nothing in it is installed: " + folder.get());
                return;
            }
            Set<String> present = new HashSet<>();
            try (DirectoryStream<Path> jars = Files.newDirectoryStream(deploy, "*" + JAR)) {
                for (Path jar : jars) {
                    String name = jar.getFileName().toString();
                    present.add(name);
                    try {
                        offer(name, jar);
                    } catch (IOException e) {
                        // One jar that cannot be copied (unreadable, disk full) holds up no other.
                        refuse(name, jar + ": not installed: cannot copy it: " + e);
                    }
                }
            }
            removeGone(present);
            refused.remove("");
        } catch (IOException | RuntimeException e) {
            refuse("", "cannot scan " + deploy + ": " + e);
        }
    }

    private void offer(String name, Path jar) throws IOException {
        Optional<String> refusal;
        BasicFileAttributes before;
        try {
            refusal = trust.refuseJar(jar);
            before = Files.readAttributes(jar, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException gone) {
            return; // removed meanwhile: the next scan sees it gone
        }
        if (refusal.isPresent()) {
            refuse(name, jar + ": not installed: " + refusal.get());
            return;
        }
        Version version = Version.of(before);
        if (version.equals(copied.get(name))) {
            refused.remove(name);
            return;
        }
        Path staged = mirror.resolve("." + name + ".tmp"); // FileInstall watches *.jar only
        // NOFOLLOW_LINKS: a link swapped in after the check fails to open rather than being read.
        try (InputStream in = Files.newInputStream(jar, LinkOption.NOFOLLOW_LINKS)) {
            Files.copy(in, staged, StandardCopyOption.REPLACE_EXISTING);
        }
        BasicFileAttributes after = Files.readAttributes(jar, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!Version.of(after).equals(version)) {
            Files.deleteIfExists(staged); // still being written: the next scan copies it whole
            return;
        }
        Files.move(staged, mirror.resolve(name), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        copied.put(name, version);
        refused.remove(name);
        LOG.info(jar + ": accepted for installation");
    }

    private void refuse(String name, String message) {
        if (!message.equals(refused.put(name, message))) {
            LOG.severe(message);
        }
    }

    private void removeGone(Set<String> present) throws IOException {
        refused.keySet().removeIf(name -> !name.isEmpty() && !present.contains(name));
        for (var it = copied.keySet().iterator(); it.hasNext();) {
            String name = it.next();
            if (!present.contains(name)) {
                Files.deleteIfExists(mirror.resolve(name));
                it.remove();
                LOG.info(deploy.resolve(name) + ": removed from deploy/, so its bundle is uninstalled");
            }
        }
    }

    @Override
    public void close() {
        scanner.shutdownNow();
        try {
            scanner.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
