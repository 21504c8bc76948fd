package org.flexnbd.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.lang.annotation.Annotation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.rules.Timeout;

/** The component's life cycle, driven the way SCR drives it: construct with a configuration, then deactivate. */
public class DemoUpstreamComponentTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Rule
    public Timeout timeout = Timeout.seconds(120);

    private final List<LogRecord> logged = new ArrayList<>();
    private final Logger logger = Logger.getLogger(DemoUpstreamComponent.class.getName());
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            synchronized (logged) {
                logged.add(record);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @Before
    public void captureLog() {
        logger.addHandler(capture);
    }

    @After
    public void releaseLog() {
        logger.removeHandler(capture);
    }

    private static DemoUpstreamComponent.Config config(String path, long size) {
        return new DemoUpstreamComponent.Config() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return DemoUpstreamComponent.Config.class;
            }

            @Override
            public String path() {
                return path;
            }

            @Override
            public long size() {
                return size;
            }
        };
    }

    @Test
    public void servesOnTheSocketUntilDeactivated() throws Exception {
        Path socket = tmp.getRoot().toPath().resolve("demo.sock");
        DemoUpstreamComponent component = new DemoUpstreamComponent(config(socket.toString(), 1L << 30));
        try {
            assertTrue(Files.exists(socket));
            TestClient client = TestClient.connect(component.server(), List.of("base:allocation"));
            assertEquals(1L << 30, client.export.export().size());
            assertEquals(0, client.write(0, new byte[] {1, 2, 3}, 0));

            component.deactivate();
            assertFalse("socket file removed", Files.exists(socket));
            assertFalse("client connection closed", stillOpen(client));
            client.close();
        } finally {
            component.deactivate();
        }
    }

    @Test
    public void logsWhatItServesAtInfo() throws Exception {
        Path socket = tmp.getRoot().toPath().resolve("d.sock");
        DemoUpstreamComponent component = new DemoUpstreamComponent(config(socket.toString(), 123456789L));
        component.deactivate();
        synchronized (logged) {
            assertTrue(logged.stream().anyMatch(r -> r.getLevel() == Level.INFO
                    && r.getMessage().equals("demo: in-memory upstream of 123456789 bytes on " + socket)));
        }
    }

    @Test
    public void theDefaultSizeIsOneGibibyte() throws Exception {
        assertEquals(1073741824L, (long) DemoUpstreamComponent.Config.class.getMethod("size").getDefaultValue());
    }

    @Test
    public void aMissingPathOrANegativeSizeIsRefused() throws Exception {
        for (DemoUpstreamComponent.Config bad : new DemoUpstreamComponent.Config[] {config("", 1), config(null, 1),
                config(tmp.getRoot().toPath().resolve("x.sock").toString(), -1)}) {
            try {
                new DemoUpstreamComponent(bad).deactivate();
                fail("activated with " + bad.path() + " " + bad.size());
            } catch (IllegalArgumentException expected) {
                // ok
            }
        }
    }

    @Test
    public void anUnusablePathFailsActivation() throws Exception {
        Path nowhere = tmp.getRoot().toPath().resolve("no/such/dir/demo.sock");
        try {
            new DemoUpstreamComponent(config(nowhere.toString(), 1 << 20)).deactivate();
            fail();
        } catch (java.io.IOException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains(nowhere.toString()));
        }
    }

    private static boolean stillOpen(TestClient client) {
        try {
            return client.in.hasMore();
        } catch (java.io.IOException reset) {
            return false;
        }
    }
}
