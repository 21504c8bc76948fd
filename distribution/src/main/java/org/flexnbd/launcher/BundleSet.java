package org.flexnbd.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;

/**
 * The jars of the installation's bundle/ folder, installed all at once (so that they resolve together) and
 * started in two steps: the infrastructure (the DS, ConfigAdmin and FileInstall runtimes, commons-cli), then the
 * application, with the cli last. Jars are named without versions, so that a bundle keeps its location when a
 * new build replaces it.
 * <p>
 * The install order is also the stop order, reversed (the framework stops bundles by descending id): the cli and
 * management first, then the listener, which drains its clients' requests through the upstream and passes their
 * DISCONNECT on, then the upstream, then the demo server it may be connected to.
 */
final class BundleSet {
    /** The infrastructure, in start order: file names in bundle/ without ".jar". */
    static final List<String> INFRASTRUCTURE = List.of("org.osgi.util.function", "org.osgi.util.promise",
            "org.osgi.service.component", "org.apache.felix.configadmin", "org.apache.felix.scr",
            "org.apache.felix.fileinstall", "commons-cli", "netty-common", "netty-buffer", "bcprov-jdk18on",
            "bcutil-jdk18on", "bctls-jdk18on");
    /** The application, in start order; other jars of bundle/ come after these, by name. */
    static final List<String> APPLICATION = List.of("flexnbd-protocol", "flexnbd-demo", "flexnbd-upstream",
            "flexnbd-downstream", "flexnbd-management");
    /** Started last: it configures the others and decides the exit status. */
    static final String CLI = "flexnbd-cli";

    private final List<Bundle> infrastructure;
    private final List<Bundle> application;

    private BundleSet(List<Bundle> infrastructure, List<Bundle> application) {
        this.infrastructure = infrastructure;
        this.application = application;
    }

    /** Installs every jar of the folder. */
    static BundleSet install(BundleContext context, Path folder) throws LaunchException {
        List<Bundle> infrastructure = new ArrayList<>();
        for (String name : INFRASTRUCTURE) {
            Path jar = folder.resolve(name + ".jar");
            if (!Files.isRegularFile(jar)) {
                throw new LaunchException("incomplete installation: " + jar + " is missing", null);
            }
            infrastructure.add(installJar(context, jar));
        }
        List<Bundle> application = new ArrayList<>();
        for (Path jar : applicationJars(folder)) {
            application.add(installJar(context, jar));
        }
        return new BundleSet(infrastructure, application);
    }

    /** The other jars: those of {@link #APPLICATION} in its order, then any others by name, the cli last. */
    static List<Path> applicationJars(Path folder) throws LaunchException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".jar"))
                    .filter(f -> !INFRASTRUCTURE.contains(baseName(f)))
                    .sorted(Comparator.comparingInt(BundleSet::rank).thenComparing(f -> f.getFileName().toString()))
                    .toList();
        } catch (IOException e) {
            throw new LaunchException("cannot list " + folder + ": " + e.getMessage(), e);
        }
    }

    private static int rank(Path jar) {
        String name = baseName(jar);
        if (name.equals(CLI)) {
            return Integer.MAX_VALUE;
        }
        int known = APPLICATION.indexOf(name);
        return known >= 0 ? known : APPLICATION.size();
    }

    private static String baseName(Path jar) {
        String n = jar.getFileName().toString();
        return n.substring(0, n.length() - ".jar".length());
    }

    private static Bundle installJar(BundleContext context, Path jar) throws LaunchException {
        try {
            return context.installBundle(jar.toUri().toString());
        } catch (BundleException | RuntimeException e) {
            throw new LaunchException("cannot install " + jar + ": " + e.getMessage(), e);
        }
    }

    void startInfrastructure() throws LaunchException {
        start(infrastructure);
    }

    void startApplication() throws LaunchException {
        start(application);
    }

    private static void start(List<Bundle> bundles) throws LaunchException {
        for (Bundle b : bundles) {
            if (b.getHeaders().get("Fragment-Host") != null) {
                continue;
            }
            try {
                b.start();
            } catch (BundleException | RuntimeException e) {
                throw new LaunchException("cannot start bundle " + b.getSymbolicName() + ": " + e.getMessage(), e);
            }
        }
    }
}
