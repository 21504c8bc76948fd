package org.flexnbd.itests.osgi;

import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.composite;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.ops4j.pax.exam.Constants;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.options.UrlProvisionOption;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;

/**
 * What a Pax Exam test class boots: Felix with SCR, ConfigAdmin and the project's bundles, each provisioned as a
 * {@code file:} URL to the jar this build made (copied, without versions in the names, into
 * {@code target/bundles} by the pom's {@code copy-dependencies} execution). Not {@code mavenBundle()}: that reads
 * whatever copy is in the local repository, which may be stale.
 *
 * <p>A test class's {@code @Configuration} method is usually just {@code return Provisioning.appliance();}, with
 * any further options (a system property, an extra bundle) passed as arguments.
 */
public final class Provisioning {
    /** System property (set by failsafe) naming the folder the bundles were copied to. */
    public static final String BUNDLES_DIR_PROPERTY = "flexnbd.bundles.dir";

    /**
     * The infrastructure bundles, by jar name (the artifactId), in install order. SCR needs the DS API and the
     * promise and function bundles beside it: it does not carry them itself.
     */
    public static final List<String> INFRASTRUCTURE = List.of(
            "org.osgi.util.function",
            "org.osgi.util.promise",
            "org.osgi.service.component",
            "org.apache.felix.scr",
            "org.apache.felix.configadmin",
            "commons-cli",
            "netty-common",
            "netty-buffer");

    /** The project's bundles: artifactId, jar name and Bundle-SymbolicName are all the same. */
    public static final List<String> PROJECT = List.of(
            "flexnbd-protocol",
            "flexnbd-upstream",
            "flexnbd-downstream",
            "flexnbd-management",
            "flexnbd-cli",
            "flexnbd-demo");

    /** Infrastructure starts one level before the project's bundles (Pax Exam's own start at 2, the probe at 5). */
    public static final int INFRASTRUCTURE_START_LEVEL = Constants.START_LEVEL_DEFAULT_PROVISION;
    public static final int PROJECT_START_LEVEL = Constants.START_LEVEL_DEFAULT_PROVISION + 1;

    private Provisioning() {
    }

    /** The whole appliance (JUnit, infrastructure, every project bundle) plus whatever else the caller adds. */
    public static Option[] appliance(Option... extra) {
        return options(
                junitBundles(),
                cleanCaches(),
                infrastructure(),
                projectBundles(),
                composite(extra));
    }

    /** SCR with its API bundles, ConfigAdmin and commons-cli. */
    public static Option infrastructure() {
        return provision(INFRASTRUCTURE, INFRASTRUCTURE_START_LEVEL);
    }

    /** The project's bundles, except those named (for a test that installs its own version of one). */
    public static Option projectBundles(String... except) {
        List<String> names = new ArrayList<>(PROJECT);
        names.removeAll(Arrays.asList(except));
        return provision(names, PROJECT_START_LEVEL);
    }

    /** A {@code file:} provisioning option for {@code target/bundles/NAME.jar}; fails at once when it is missing. */
    public static UrlProvisionOption bundleJar(String name) {
        return bundle(jar(name).toUri().toString());
    }

    /** The path of {@code target/bundles/NAME.jar}, checked to exist. */
    public static Path jar(String name) {
        Path jar = bundlesDir().resolve(name + ".jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("no bundle " + jar
                    + ": run the build through Maven (mvn verify), whose copy-dependencies execution puts it there");
        }
        return jar;
    }

    /** The folder the bundles were copied to. */
    public static Path bundlesDir() {
        return Path.of(System.getProperty(BUNDLES_DIR_PROPERTY, "target/bundles")).toAbsolutePath();
    }

    /** The installed bundle with this symbolic name, or null. For use inside the framework (in a test method). */
    public static Bundle find(BundleContext context, String symbolicName) {
        for (Bundle b : context.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        return null;
    }

    private static Option provision(List<String> names, int startLevel) {
        List<Option> options = new ArrayList<>();
        for (String name : names) {
            options.add(bundleJar(name).startLevel(startLevel));
        }
        return composite(options.toArray(new Option[0]));
    }
}
