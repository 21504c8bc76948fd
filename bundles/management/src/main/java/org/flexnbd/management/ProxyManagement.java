package org.flexnbd.management;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

import javax.management.AttributeChangeNotification;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanConstructorInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanNotificationInfo;
import javax.management.MBeanOperationInfo;
import javax.management.MBeanParameterInfo;
import javax.management.MalformedObjectNameException;
import javax.management.NotificationBroadcasterSupport;
import javax.management.ObjectName;
import javax.management.StandardEmitterMBean;

import org.flexnbd.protocol.service.Downstream;
import org.flexnbd.protocol.service.Upstream;
import org.flexnbd.protocol.service.UpstreamStatus;

/**
 * The {@code flexnbd:type=Proxy} MBean: reads whatever {@link Upstream} and {@link Downstream} services are there at
 * the moment of each call (either may be missing, during a hot update), and describes every attribute, operation
 * and parameter for JConsole. {@link #poll()}, called once a second, turns changes of {@code State} and
 * {@code ReconnectCount} into {@link AttributeChangeNotification}s.
 *
 * <p>
 * Operations fail with a plain {@link IllegalStateException} or {@link IllegalArgumentException} carrying the reason
 * as its message, never with a cause attached: a remote client must be able to deserialize what it is sent.
 */
final class ProxyManagement extends StandardEmitterMBean implements ProxyMBean {
    private static final Logger LOG = Logger.getLogger(ProxyManagement.class.getName());

    static final ObjectName NAME = objectName("flexnbd:type=Proxy");

    static final String CONNECTED = "CONNECTED";
    static final String RECONNECTING = "RECONNECTING";
    static final String STOPPING = "STOPPING";

    private static final String DESCRIPTION = "The flexnbd NBD proxy: upstream connection state, the clients served,"
            + " counters, and operations to reconnect or move to another upstream server. Sends an attribute change"
            + " notification when State or ReconnectCount changes.";

    private static final Map<String, String> ATTRIBUTES = Map.ofEntries(
            Map.entry("State", "Upstream connection state: CONNECTED, RECONNECTING (a connection was lost and is being"
                    + " made again; requests wait and are retransmitted), or STOPPING (shutting down, or no upstream"
                    + " connector running)"),
            Map.entry("UpstreamAddress", "The upstream NBD server, host:port or a UNIX socket path; empty when no"
                    + " upstream connector is running"),
            Map.entry("ClientAddress", "The addresses of the clients being served, comma-separated; empty when none"),
            Map.entry("InFlightRequests", "Requests sent upstream, or waiting to be sent, that have no complete reply"
                    + " yet"),
            Map.entry("ReconnectCount", "Times the upstream connection was lost and made again, since the upstream"
                    + " connector started"),
            Map.entry("Retransmissions", "Requests sent upstream again after a reconnect, since the upstream connector"
                    + " started"),
            Map.entry("RequestsRelayed", "Client requests relayed upstream, since the listener started"),
            Map.entry("BytesRelayed", "Payload bytes relayed (written and read), since the listener started"),
            Map.entry("LastFailure", "Why the upstream connection was last lost; empty if never"),
            Map.entry("LastFailureTime", "When the upstream connection was last lost, ISO-8601 in UTC; empty if never"),
            Map.entry("ListenAddress", "Where the proxy listens for NBD clients (host:port or a UNIX socket path);"
                    + " 'not listening: REASON' when it could not bind, empty when no listener is running"),
            Map.entry("ExportSize", "The upstream export's size in bytes, as clients see it; -1 before the first"
                    + " connection"),
            Map.entry("ExportFlags", "The upstream export's transmission flags (NBD_FLAG_*), in hexadecimal; empty"
                    + " before the first connection"),
            Map.entry("JournalRequests", "Acknowledged writes kept in the write journal until a FLUSH makes them"
                    + " durable; written again, in order, if the upstream is lost"),
            Map.entry("JournalBytes", "Bytes the write journal holds (payloads, and a request header each)"),
            Map.entry("UpstreamTls", "The TLS protocol and cipher suite of the upstream connection; empty in plain"
                    + " text"),
            Map.entry("UpstreamPeerSubject", "The subject of the upstream server's certificate; empty in plain text"),
            Map.entry("ClientTls", "One entry per client served: its address, then 'negotiating' (during its"
                    + " handshake), 'plain', or the TLS protocol, cipher suite and the subject of its certificate"),
            Map.entry("JournalReplays", "Times the write journal was written again to the upstream after a loss,"
                    + " since the upstream connector started"));

    private static final Map<String, String> OPERATIONS = Map.of(
            "reconnect", "Drop every upstream connection and connect again; requests in flight are retransmitted,"
                    + " invisibly to the clients",
            "retarget", "Move to another upstream server serving the same export (checked first, as after a"
                    + " reconnect); every connection moves and requests in flight are retransmitted. Fails, with the"
                    + " reason, and stays where it was when the new server cannot be reached or serves something else");

    private static final Map<String, List<String[]>> PARAMETERS = Map.of("retarget", List.of(
            new String[] {"address", "Host name or IP address of the new upstream server, or a UNIX socket path"
                    + " (starting with /)"},
            new String[] {"port", "TCP port of the new upstream server; 0 for a UNIX socket path"}));

    private static final String NOTIFICATION_DESCRIPTION = "Sent when State changes (CONNECTED, RECONNECTING,"
            + " STOPPING) and when ReconnectCount changes; the upstream is looked at once a second";

    private final Supplier<Upstream> upstream;
    private final Supplier<Downstream> downstream;
    private final AtomicLong sequence = new AtomicLong();
    // What the last poll saw; null before the first.
    private String lastState;
    private Long lastReconnects;

    ProxyManagement(Supplier<Upstream> upstream, Supplier<Downstream> downstream) {
        super(ProxyMBean.class, new NotificationBroadcasterSupport(notificationInfo()));
        this.upstream = upstream;
        this.downstream = downstream;
    }

    private static MBeanNotificationInfo[] notificationInfo() {
        return new MBeanNotificationInfo[] {new MBeanNotificationInfo(
                new String[] {AttributeChangeNotification.ATTRIBUTE_CHANGE},
                AttributeChangeNotification.class.getName(), NOTIFICATION_DESCRIPTION)};
    }

    private static ObjectName objectName(String name) {
        try {
            return new ObjectName(name);
        } catch (MalformedObjectNameException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** The upstream's status, or null when there is no upstream service (or it failed to answer). */
    private UpstreamStatus status() {
        Upstream u = upstream.get();
        if (u == null) {
            return null;
        }
        try {
            return u.status();
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "upstream status failed", e);
            return null;
        }
    }

    @Override
    public String getState() {
        UpstreamStatus s = status();
        return s == null ? STOPPING : s.state();
    }

    @Override
    public String getUpstreamAddress() {
        UpstreamStatus s = status();
        return s == null ? "" : s.address();
    }

    @Override
    public String getClientAddress() {
        Downstream d = downstream.get();
        if (d == null) {
            return "";
        }
        try {
            return String.join(",", d.clientAddresses());
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "downstream client addresses failed", e);
            return "";
        }
    }

    @Override
    public String getUpstreamTls() {
        UpstreamStatus s = status();
        return s == null ? "" : s.tls();
    }

    @Override
    public String getUpstreamPeerSubject() {
        UpstreamStatus s = status();
        return s == null ? "" : s.peerSubject();
    }

    @Override
    public String[] getClientTls() {
        Downstream d = downstream.get();
        if (d == null) {
            return new String[0];
        }
        try {
            return d.clientTls().toArray(new String[0]);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "downstream client TLS failed", e);
            return new String[0];
        }
    }

    @Override
    public int getInFlightRequests() {
        UpstreamStatus s = status();
        return s == null ? 0 : s.inFlight();
    }

    @Override
    public long getReconnectCount() {
        UpstreamStatus s = status();
        return s == null ? 0 : s.reconnects();
    }

    @Override
    public int getJournalRequests() {
        UpstreamStatus s = status();
        return s == null ? 0 : s.journalRequests();
    }

    @Override
    public long getJournalBytes() {
        UpstreamStatus s = status();
        return s == null ? 0 : s.journalBytes();
    }

    @Override
    public long getJournalReplays() {
        UpstreamStatus s = status();
        return s == null ? 0 : s.journalReplays();
    }

    @Override
    public long getRetransmissions() {
        UpstreamStatus s = status();
        return s == null ? 0 : s.retransmissions();
    }

    @Override
    public long getRequestsRelayed() {
        Downstream d = downstream.get();
        try {
            return d == null ? 0 : d.requestsRelayed();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    @Override
    public long getBytesRelayed() {
        Downstream d = downstream.get();
        try {
            return d == null ? 0 : d.bytesRelayed();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private static String failure(UpstreamStatus s) {
        return s == null || s.lastFailure() == null ? "" : s.lastFailure();
    }

    @Override
    public String getLastFailure() {
        return failure(status());
    }

    @Override
    public String getLastFailureTime() {
        UpstreamStatus s = status();
        return s == null || s.lastFailureMillis() <= 0 ? "" : Instant.ofEpochMilli(s.lastFailureMillis()).toString();
    }

    @Override
    public long getExportSize() {
        UpstreamStatus s = status();
        return s == null ? -1 : s.exportSize();
    }

    @Override
    public String getExportFlags() {
        UpstreamStatus s = status();
        return s == null || s.exportSize() < 0 ? "" : String.format("0x%04x", s.exportFlags());
    }

    @Override
    public String getListenAddress() {
        Downstream d = downstream.get();
        if (d == null) {
            return "";
        }
        try {
            return d.listenAddress();
        } catch (IOException e) {
            return "not listening: " + Reasons.of(e);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "downstream listen address failed", e);
            return "";
        }
    }

    private Upstream requireUpstream(String what) {
        Upstream u = upstream.get();
        if (u == null) {
            throw new IllegalStateException("cannot " + what + ": no upstream connector is running");
        }
        return u;
    }

    @Override
    public void reconnect() {
        Upstream u = requireUpstream("reconnect");
        LOG.info("reconnect requested over JMX");
        try {
            u.reconnect();
        } catch (RuntimeException e) {
            LOG.warning("reconnect failed: " + Reasons.of(e));
            throw new IllegalStateException("reconnect failed: " + Reasons.of(e));
        }
    }

    @Override
    public void retarget(String address, int port) {
        if (address == null || address.isBlank()) {
            throw new IllegalArgumentException("no address: give a host name, an IP address or a UNIX socket path");
        }
        String a = address.trim();
        boolean unix = a.startsWith("/");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not in 0-65535");
        }
        if (unix && port != 0) {
            throw new IllegalArgumentException("a UNIX socket path (" + a + ") takes port 0, not " + port);
        }
        if (!unix && port == 0) {
            throw new IllegalArgumentException("a TCP address (" + a + ") needs a port");
        }
        String where = unix ? a : a + ":" + port;
        Upstream u = requireUpstream("retarget to " + where);
        LOG.info("retarget to " + where + " requested over JMX");
        try {
            u.retarget(a, port);
        } catch (IOException | RuntimeException e) {
            LOG.warning("retarget to " + where + " failed: " + Reasons.of(e));
            throw new IllegalStateException("retarget to " + where + " failed: " + Reasons.of(e));
        }
    }

    /** Looks at the upstream and sends a notification for each change since the last look. */
    synchronized void poll() {
        UpstreamStatus s = status();
        String state = s == null ? STOPPING : s.state();
        if (lastState != null && !lastState.equals(state)) {
            send("State", "java.lang.String", lastState, state, "State changed from " + lastState + " to " + state
                    + (RECONNECTING.equals(state) && !failure(s).isEmpty() ? ": " + failure(s) : ""));
        }
        lastState = state;
        if (s == null) {
            return; // keep the last count: no upstream is not the same as a new one
        }
        long reconnects = s.reconnects();
        if (lastReconnects != null && lastReconnects != reconnects) {
            String message = reconnects > lastReconnects
                    ? "upstream reconnected (" + reconnects + " reconnects since start)"
                            + (failure(s).isEmpty() ? "" : "; last failure: " + failure(s))
                    : "reconnect count went from " + lastReconnects + " to " + reconnects
                            + ": a new upstream connector";
            send("ReconnectCount", "long", lastReconnects, reconnects, message);
        }
        lastReconnects = reconnects;
    }

    private void send(String attribute, String type, Object was, Object now, String message) {
        sendNotification(new AttributeChangeNotification(NAME, sequence.incrementAndGet(), System.currentTimeMillis(),
                message, attribute, type, was, now));
    }

    @Override
    protected String getDescription(MBeanInfo info) {
        return DESCRIPTION;
    }

    @Override
    protected String getDescription(MBeanAttributeInfo info) {
        return ATTRIBUTES.getOrDefault(info.getName(), info.getName());
    }

    @Override
    protected String getDescription(MBeanOperationInfo info) {
        return OPERATIONS.getOrDefault(info.getName(), info.getName());
    }

    @Override
    protected int getImpact(MBeanOperationInfo info) {
        return MBeanOperationInfo.ACTION;
    }

    @Override
    protected String getParameterName(MBeanOperationInfo op, MBeanParameterInfo param, int sequence) {
        List<String[]> p = PARAMETERS.get(op.getName());
        return p != null && sequence < p.size() ? p.get(sequence)[0] : param.getName();
    }

    @Override
    protected String getDescription(MBeanOperationInfo op, MBeanParameterInfo param, int sequence) {
        List<String[]> p = PARAMETERS.get(op.getName());
        return p != null && sequence < p.size() ? p.get(sequence)[1] : param.getDescription();
    }

    @Override
    protected MBeanConstructorInfo[] getConstructors(MBeanConstructorInfo[] ctors, Object impl) {
        return null; // created by the component, not by JMX clients
    }
}
