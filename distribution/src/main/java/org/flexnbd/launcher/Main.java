package org.flexnbd.launcher;

import java.nio.file.Path;
import java.time.Duration;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.launcher.logging.Logging;

/**
 * The process entry point: starts the appliance (an embedded Felix with the bundles of the installation), hands
 * it the arguments, waits for the exit status (from the cli bundle, or 0 on SIGTERM/SIGINT), stops it, exits.
 * The start script passes the installation directory as the system property {@code flexnbd.home}.
 */
public final class Main {
    private static final Logger LOG = Logger.getLogger(Main.class.getName());
    private static final Level FATAL = Level.parse("1100");
    private static final Duration STOP_BOUND = Duration.ofSeconds(15);

    private Main() {
    }

    /**
     * The RMI registry of the JMX connector accepts bind and rebind from any local address, so any local user could
     * put a stub of their own under "jmxrmi" and collect the passwords of the operators who connect. A registry call
     * that would have to deserialize more than a name (a bind's stub) is refused by this filter; lookups still work.
     * Read once, when the RMI registry is first used: so set here, before anything else, unless the operator has.
     */
    static final String REGISTRY_FILTER = "sun.rmi.registry.registryFilter";
    private static final String RENEGOTIATION = "jdk.tls.rejectClientInitiatedRenegotiation";

    public static void main(String[] args) {
        if (System.getProperty(REGISTRY_FILTER) == null) {
            System.setProperty(REGISTRY_FILTER, "java.lang.String;!*");
        }
        if (System.getProperty(RENEGOTIATION) == null) {
            // TLS 1.2 clients may not renegotiate: nothing here needs it, and it is a path no test walks.
            System.setProperty(RENEGOTIATION, "true");
        }
        // JDK 17 renews a TLS 1.3 key by itself once 2^37 bytes (by default) went under it, and that renewal ends in
        // a stream of KeyUpdate messages GnuTLS peers (nbdkit, libnbd, qemu) drop the connection for, about every
        // 128 GiB of one connection. Its peers renew their own keys; the proxy never starts a renewal.
        java.security.Security.setProperty("jdk.tls.keyLimits",
                "AES/GCM/NoPadding KeyUpdate 2^62, ChaCha20-Poly1305 KeyUpdate 2^62");
        Logging.install();
        Path home = Path.of(System.getProperty(EmbeddedFelix.HOME_PROPERTY, ".")).toAbsolutePath().normalize();
        System.exit(run(home, args));
    }

    static int run(Path home, String[] args) {
        ExitStatus exit = new ExitStatus();
        Signals.onTermination(signal -> {
            LOG.info("SIG" + signal + ": stopping");
            exit.accept(0);
        });
        EmbeddedFelix felix;
        try {
            felix = EmbeddedFelix.start(home);
        } catch (LaunchException e) {
            LOG.log(FATAL, e.getMessage());
            return 1;
        }
        try {
            BundleSet bundles = BundleSet.install(felix.context(), home.resolve("bundle"));
            bundles.startInfrastructure();
            LauncherServices.register(felix.context(), args, exit);
            bundles.startApplication();
            felix.whenStopped(() -> exit.accept(0));
            return exit.await();
        } catch (LaunchException e) {
            LOG.log(FATAL, e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            return 1;
        } finally {
            felix.stop(STOP_BOUND);
        }
    }
}
