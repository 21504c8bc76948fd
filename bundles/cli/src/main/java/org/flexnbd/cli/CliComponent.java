package org.flexnbd.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

/**
 * The command line: takes the arguments from the launcher, prints usage or a usage error, sets the log level,
 * configures the components and reports the exit status to the launcher when the process is to end.
 * <p>
 * The launcher hands over the arguments and takes the exit status through two services of java.* types (a
 * {@code Supplier<String[]>} and an {@code IntConsumer}, told apart by the property {@code flexnbd.launcher}), so
 * that neither side needs an API jar of the other. The work runs on a thread of its own: start-up waits for other
 * components, which SCR must be free to activate meanwhile.
 */
@Component(immediate = true)
public final class CliComponent {
    /** The framework property with the installation directory (its config/ holds the defaults). */
    static final String HOME_PROPERTY = "flexnbd.home";
    /**
     * The property (framework or system) naming the config folder when it is not the installation's config/: the
     * start script sets it from FLEXNBD_CONFIG_DIR (the Debian package's /etc/flexnbd-proxy).
     */
    static final String CONFIG_PROPERTY = "flexnbd.config";
    /** Level of the fatal lines (F). */
    static final Level FATAL = Level.parse("1100");

    private static final Logger LOG = Logger.getLogger(CliComponent.class.getName());
    /** How long the proxy may be without a listener (a downstream update or reconfiguration takes milliseconds). */
    static final Duration LISTENER_GRACE = Duration.ofSeconds(10);

    private final Supplier<String[]> args;
    private final IntConsumer exit;
    private final OsgiAppliance appliance;
    private final ConfigDefaults defaults;
    private final Thread thread;
    private final Path configDirectory;
    private volatile Path demoDirectory;
    private volatile ConfigWatcher watcher;
    private volatile ListenerGuard guard;
    private volatile boolean stopping;
    private final BundleContext context;

    @Activate
    public CliComponent(BundleContext context,
            @Reference(name = "args", target = "(flexnbd.launcher=args)") Supplier<String[]> args,
            @Reference(name = "exit", target = "(flexnbd.launcher=exit)") IntConsumer exit,
            @Reference(name = "configAdmin") ConfigurationAdmin configAdmin) {
        this.args = args;
        this.exit = exit;
        this.context = context;
        this.configDirectory = configDirectory(context.getProperty(CONFIG_PROPERTY),
                context.getProperty(HOME_PROPERTY));
        this.defaults = new ConfigDefaults(configDirectory);
        this.appliance = new OsgiAppliance(context, configAdmin, defaults);
        this.thread = new Thread(this::run, "cli");
        thread.setDaemon(true);
        thread.start();
    }

    /** The config folder: the one named by {@link #CONFIG_PROPERTY}, else the installation's config/, else none. */
    static Path configDirectory(String config, String home) {
        if (config != null && !config.isBlank()) {
            return Path.of(config);
        }
        return home == null ? null : Path.of(home, "config");
    }

    private void run() {
        Outcome outcome = new ArgumentParser(System.getenv()).parse(args.get());
        if (outcome instanceof Outcome.Help help) {
            PrintStream out = System.out;
            out.print(help.usage());
            out.flush();
            exit.accept(0);
        } else if (outcome instanceof Outcome.UsageError error) {
            // A log line like every line on stderr (the contract), so at the fatal level, which is always shown.
            LOG.log(FATAL, error.message() + " (see " + ArgumentParser.COMMAND + " --help)");
            exit.accept(2);
        } else if (outcome instanceof Outcome.Run run) {
            start(run.settings());
        }
    }

    private void start(ProxySettings settings) {
        Logger.getLogger("").setLevel(settings.verbosity().level());
        try {
            PrivateFileCheck.check(settings);
            Path demoSocket = null;
            if (settings.demo()) {
                demoDirectory = Files.createTempDirectory("flexnbd-demo-");
                demoSocket = demoDirectory.resolve("demo.sock");
            }
            Startup startup = new Startup(settings, appliance, demoSocket);
            // Watching first: an edit made the moment the proxy listens must not slip through.
            watchConfiguration(startup);
            startup.run();
            guard = new ListenerGuard(context, exit, LISTENER_GRACE);
        } catch (StartupFailure e) {
            if (stopping) {
                // A stop asked for during the start (SIGTERM while the upstream's handshake was awaited): no failure.
                LOG.info("stopped during the start: " + e.getMessage());
                return;
            }
            LOG.log(FATAL, e.getMessage());
            exit.accept(e.status());
        } catch (IOException e) {
            LOG.log(FATAL, "cannot create a folder for the demo upstream's socket: " + Startup.reason(e));
            exit.accept(1);
        } catch (InterruptedException e) {
            // The framework is stopping: nothing more to do.
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            if (stopping) {
                LOG.info("stopped during the start: " + e);
                return;
            }
            LOG.log(FATAL, "start-up failed", e);
            exit.accept(1);
        }
    }

    /** From now on, an edit of config/PID.cfg reaches the running components. */
    private void watchConfiguration(Startup startup) {
        if (configDirectory == null || !Files.isDirectory(configDirectory)) {
            return;
        }
        try {
            watcher = new ConfigWatcher(configDirectory,
                    Set.of(Pids.DEMO, Pids.UPSTREAM, Pids.DOWNSTREAM, Pids.MANAGEMENT), pid -> {
                        try {
                            defaults.requireSettings(pid);
                            startup.reapply(pid);
                        } catch (ConfigDefaults.ConfigException e) {
                            LOG.severe(configDirectory.resolve(pid + ".cfg") + " refused: " + e.getMessage()
                                    + "; the running configuration stays");
                        }
                    });
        } catch (IOException e) {
            LOG.warning("cannot watch " + configDirectory + " for changes: " + Startup.reason(e));
        }
    }

    @Deactivate
    void deactivate() {
        stopping = true;
        ListenerGuard g = guard;
        if (g != null) {
            g.close();
        }
        ConfigWatcher w = watcher;
        if (w != null) {
            w.close();
        }
        thread.interrupt();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        appliance.close();
        Path dir = demoDirectory;
        if (dir != null) {
            try {
                Files.deleteIfExists(dir.resolve("demo.sock"));
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                LOG.fine("cannot remove " + dir + ": " + e);
            }
        }
    }
}
