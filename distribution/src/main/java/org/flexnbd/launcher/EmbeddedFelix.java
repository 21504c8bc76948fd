package org.flexnbd.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.apache.felix.framework.Felix;
import org.flexnbd.launcher.logging.FelixLog;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;

/**
 * The Felix framework of one run: its bundle cache in a temporary folder of its own (removed at stop, or at a later
 * start when this process was killed; cleaned at first init anyway, so that no earlier run's bundles or
 * configurations come back), quiet (its log goes to
 * java.util.logging; SCR, ConfigAdmin and FileInstall likewise), FileInstall watching a private copy of the jars of
 * deploy/ that {@link DeployMirror} accepts.
 */
final class EmbeddedFelix {
    /** The framework property the cli reads the installation directory from. */
    static final String HOME_PROPERTY = "flexnbd.home";

    private static final Logger LOG = Logger.getLogger(EmbeddedFelix.class.getName());
    /** The cache folders are named after the process: flexnbd-felix-PID-RANDOM. */
    private static final String CACHE_PREFIX = "flexnbd-felix-";
    /** How often deploy/ is scanned; FileInstall's own poll comes on top. */
    private static final Duration DEPLOY_SCAN = Duration.ofMillis(500);
    private static final Pattern CACHE_NAME = Pattern.compile(Pattern.quote(CACHE_PREFIX) + "(\\d+)-\\d+");

    private final Felix felix;
    /** The private folder holding the framework's storage and the deploy mirror; removed at stop. */
    private final Path own;
    private final DeployMirror deploy;

    private EmbeddedFelix(Felix felix, Path own, DeployMirror deploy) {
        this.felix = felix;
        this.own = own;
        this.deploy = deploy;
    }

    /**
     * The cache lives one level down in a folder that is created 0700 for this process and is never deleted and made
     * again until the process ends: Felix empties its storage folder at first init by deleting it and creating it
     * anew with the umask's mode, and in a shared temporary folder another local user could create that folder first
     * (and did), so that the proxy would load bundles from a folder that user owns. Inside a private folder nobody
     * else can create, swap or read anything, the stored configurations included.
     */
    static EmbeddedFelix start(Path home) throws LaunchException {
        Path own;
        try {
            own = Files.createTempDirectory(CACHE_PREFIX + ProcessHandle.current().pid() + "-");
        } catch (IOException e) {
            throw new LaunchException("cannot create the framework's cache folder: " + e.getMessage(), e);
        }
        removeStaleCaches(own);
        Path storage = own.resolve("felix");
        DeployMirror deploy;
        try {
            deploy = new DeployMirror(home.resolve("deploy"), own.resolve("deploy"));
        } catch (IOException e) {
            delete(own);
            throw new LaunchException("cannot create the folder for deployed bundles: " + e.getMessage(), e);
        }
        // Before FileInstall starts: what deploy/ holds at start is installed with the rest, as before.
        deploy.start(DEPLOY_SCAN);
        Felix felix;
        try {
            felix = new Felix(configuration(home, storage, deploy.mirror()));
            felix.init();
            felix.start();
        } catch (BundleException | RuntimeException e) {
            deploy.close();
            delete(own);
            throw new LaunchException("cannot start the OSGi framework: " + e.getMessage(), e);
        }
        return new EmbeddedFelix(felix, own, deploy);
    }

    /** @param deployed the folder FileInstall watches: the vetted copy of deploy/ */
    static Map<String, Object> configuration(Path home, Path storage, Path deployed) {
        Map<String, Object> c = new HashMap<>();
        c.put(HOME_PROPERTY, home.toString());
        c.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        c.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        // Felix: its log to java.util.logging, no shutdown hook of its own (the launcher stops it).
        c.put("felix.log.logger", new FelixLog());
        c.put("felix.log.level", "3");
        c.put("felix.shutdown.hook", "false");
        // SCR and ConfigAdmin print to System.err without a log service; that becomes debug lines. Errors only.
        c.put("ds.loglevel", "error");
        c.put("felix.cm.loglevel", "1");
        // FileInstall: hot update of bundles dropped into deploy/ (a jar with the symbolic name and version of an
        // installed bundle updates it), through the vetted copy. Configurations are the cli's alone: no .cfg
        // watching, nothing written back.
        c.put("felix.fileinstall.dir", deployed.toString());
        c.put("felix.fileinstall.filter", ".*\\.jar");
        c.put("felix.fileinstall.poll", "1000");
        c.put("felix.fileinstall.noInitialDelay", "true");
        c.put("felix.fileinstall.enableConfigSave", "false");
        c.put("felix.fileinstall.bundles.new.start", "true");
        c.put("felix.fileinstall.log.default", "jul");
        c.put("felix.fileinstall.log.level", "4");
        c.put("felix.fileinstall.tmpdir", storage.resolve("fileinstall").toString());
        return c;
    }

    /**
     * Removes the caches of earlier runs that could not clean up (killed): those whose process is gone, and only
     * folders of this user (never what another user named so in the shared temporary folder).
     */
    static void removeStaleCaches(Path own) {
        Path temp = own.getParent();
        try (Stream<Path> all = Files.list(temp)) {
            UserPrincipal me = Files.getOwner(own);
            all.filter(p -> {
                Matcher m = CACHE_NAME.matcher(p.getFileName().toString());
                return m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()
                        && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && ownedBy(p, me);
            }).forEach(EmbeddedFelix::delete);
        } catch (IOException | RuntimeException e) {
            LOG.fine("cannot look for stale caches in " + temp + ": " + e);
        }
    }

    private static boolean ownedBy(Path p, UserPrincipal user) {
        try {
            return Files.getOwner(p, LinkOption.NOFOLLOW_LINKS).equals(user);
        } catch (IOException e) {
            return false;
        }
    }

    BundleContext context() {
        return felix.getBundleContext();
    }

    /** Runs the action when the framework stops, whoever stops it. */
    void whenStopped(Runnable action) {
        Thread t = new Thread(() -> {
            try {
                felix.waitForStop(0);
                action.run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "framework-watch");
        t.setDaemon(true);
        t.start();
    }

    /** Stops every bundle (components deactivate: the listener drains and removes its socket), then the cache. */
    void stop(Duration bound) {
        deploy.close();
        try {
            felix.stop();
            FrameworkEvent e = felix.waitForStop(bound.toMillis());
            if (e.getType() == FrameworkEvent.WAIT_TIMEDOUT) {
                LOG.warning("the framework did not stop within " + bound.toSeconds() + " s; exiting anyway");
                return; // bundles still hold files in the cache
            }
        } catch (BundleException | RuntimeException e) {
            LOG.warning("stopping the framework: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        delete(own);
    }

    private static void delete(Path folder) {
        try (Stream<Path> all = Files.walk(folder)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.fine("cannot remove " + folder + ": " + e);
        }
    }
}
