package org.flexnbd.demo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.logging.Logger;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The demo upstream: while configured (PID {@code org.flexnbd.demo}), an in-memory NBD export served on a UNIX
 * socket, for {@code --demo}. Deactivation closes every connection and removes the socket file.
 */
@Component(configurationPid = DemoUpstreamComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE)
@Designate(ocd = DemoUpstreamComponent.Config.class)
public final class DemoUpstreamComponent {
    public static final String PID = "org.flexnbd.demo";
    private static final Logger LOG = Logger.getLogger(DemoUpstreamComponent.class.getName());

    @ObjectClassDefinition(name = "flexnbd demo upstream",
            description = "An in-memory NBD export on a UNIX socket, for --demo")
    public @interface Config {
        @AttributeDefinition(description = "the UNIX socket path to serve on")
        String path();

        @AttributeDefinition(description = "the export's size in bytes (memory is used only where written)")
        long size() default 1073741824L;
    }

    private final MemoryServer server;

    @Activate
    public DemoUpstreamComponent(Config config) throws IOException {
        String path = config.path();
        if (path == null || path.isBlank()) {
            throw new IllegalArgumentException("demo: no socket path configured (" + PID + " path)");
        }
        long size = config.size();
        if (size < 0) {
            throw new IllegalArgumentException("demo: negative size " + size);
        }
        server = MemoryServer.onUnixSocket(Path.of(path), new MemoryExport(size));
        LOG.info(String.format("demo: in-memory upstream of %d bytes on %s", size, path));
    }

    /** The running server, for tests. */
    MemoryServer server() {
        return server;
    }

    @Deactivate
    void deactivate() {
        server.close();
        LOG.fine("demo: stopped serving " + server.address());
    }
}
