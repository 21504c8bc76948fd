package org.flexnbd.demo;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.function.BooleanSupplier;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * The packaged demo bundle in an embedded Felix with SCR and ConfigAdmin: nothing is served until the
 * org.flexnbd.demo configuration exists; then the socket answers NBD; deleting the configuration, or stopping the
 * framework, removes the socket.
 */
public class DemoComponentInFelixIT {
    private static final String[] BUNDLES = {"function.bundle", "promise.bundle", "component.bundle", "scr.bundle",
        "configadmin.bundle", "netty-common.bundle", "netty-buffer.bundle", "protocol.bundle", "demo.bundle"};

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Framework framework;
    private BundleContext context;
    private Bundle demo;

    @Before
    public void startFelix() throws Exception {
        Map<String, String> config = new HashMap<>();
        config.put(Constants.FRAMEWORK_STORAGE, tmp.newFolder("felix-cache").getPath());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        framework = ServiceLoader.load(FrameworkFactory.class).iterator().next().newFramework(config);
        framework.start();
        context = framework.getBundleContext();
        List<Bundle> installed = new ArrayList<>();
        for (String property : BUNDLES) {
            String path = System.getProperty(property);
            assertNotNull(property + " is set by the pom", path);
            installed.add(context.installBundle(new File(path).toURI().toString()));
        }
        for (Bundle b : installed) {
            b.start();
        }
        demo = installed.get(installed.size() - 1);
        assertEquals("flexnbd-demo", demo.getSymbolicName());
        assertEquals(Bundle.ACTIVE, demo.getState());
    }

    @After
    public void stopFelix() throws Exception {
        if (framework != null) {
            framework.stop();
            framework.waitForStop(15000);
        }
    }

    /** ConfigAdmin through reflection: its API lives in its own bundle, not on this class path. */
    private Object demoConfiguration() throws Exception {
        // All references: the class path has its own copy of the ConfigAdmin API, so the system bundle would
        // otherwise be deemed unable to use the bundle's service.
        ServiceReference<?> ref = await(() -> {
            try {
                ServiceReference<?>[] refs = context.getAllServiceReferences("org.osgi.service.cm.ConfigurationAdmin",
                        null);
                return refs == null ? null : refs[0];
            } catch (org.osgi.framework.InvalidSyntaxException e) {
                throw new IllegalStateException(e);
            }
        });
        Object admin = context.getService(ref);
        Class<?> adminType = ref.getBundle().loadClass("org.osgi.service.cm.ConfigurationAdmin");
        return adminType.getMethod("getConfiguration", String.class, String.class).invoke(admin,
                DemoUpstreamComponent.PID, "?");
    }

    private static void call(Object configuration, String method, Object... args) throws Exception {
        for (Method m : configuration.getClass().getInterfaces()[0].getMethods()) {
            if (m.getName().equals(method) && m.getParameterCount() == args.length) {
                m.invoke(configuration, args);
                return;
            }
        }
        throw new NoSuchMethodException(method);
    }

    private static <T> T await(java.util.function.Supplier<T> value) throws InterruptedException {
        long deadline = System.nanoTime() + 15_000_000_000L;
        T v = value.get();
        while (v == null && System.nanoTime() < deadline) {
            Thread.sleep(20);
            v = value.get();
        }
        assertNotNull("not there within 15 s", v);
        return v;
    }

    private static void awaitTrue(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(what, condition.getAsBoolean());
    }

    /** The socket file appears at bind(), a moment before listen(): a refused connection then is no failure yet. */
    private static TestClient connectSoon(Path socket) throws Exception {
        for (int attempt = 1;; attempt++) {
            try {
                return TestClient.connectUnix(socket, List.of(MemoryServer.BASE_ALLOCATION));
            } catch (java.net.ConnectException notListeningYet) {
                if (attempt == 100) {
                    throw notListeningYet;
                }
                Thread.sleep(20);
            }
        }
    }

    @Test(timeout = 120_000)
    public void servesWhileConfiguredAndCleansUpAfter() throws Exception {
        Path socket = tmp.getRoot().toPath().resolve("demo.sock");
        Thread.sleep(200);
        assertFalse("nothing served without a configuration", Files.exists(socket));

        Object configuration = demoConfiguration();
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("path", socket.toString());
        props.put("size", 32L << 20);
        call(configuration, "update", props);
        awaitTrue("the socket appears", () -> Files.exists(socket));

        try (TestClient client = connectSoon(socket)) {
            assertEquals(32L << 20, client.export.export().size());
            assertTrue(client.export.structuredReplies());
            byte[] data = MemoryExportTest.pattern(100000, 4);
            assertEquals(0, client.write(4096, data, 0));
            assertArrayEquals(data, client.read(4096, data.length));
        }

        call(configuration, "delete");
        awaitTrue("the socket is removed when the configuration goes", () -> !Files.exists(socket));

        // Configured again, then the whole framework stops: the socket goes with it.
        Object again = demoConfiguration();
        call(again, "update", props);
        awaitTrue("the socket appears again", () -> Files.exists(socket));
        framework.stop();
        framework.waitForStop(15000);
        framework = null;
        assertFalse("the socket is removed when the framework stops", Files.exists(socket));
    }
}
