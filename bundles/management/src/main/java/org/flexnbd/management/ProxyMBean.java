package org.flexnbd.management;

/**
 * The management interface of {@code flexnbd:type=Proxy}. Descriptions, parameter names and impacts are supplied by
 * {@link ProxyManagement}; only JDK types appear, so that any JMX client (JConsole) can read everything.
 */
public interface ProxyMBean {

    String getState();

    String getUpstreamAddress();

    String getClientAddress();

    String getUpstreamTls();

    String getUpstreamPeerSubject();

    String[] getClientTls();

    int getInFlightRequests();

    long getReconnectCount();

    long getRetransmissions();

    long getRequestsRelayed();

    long getBytesRelayed();

    String getLastFailure();

    String getLastFailureTime();

    String getListenAddress();

    long getExportSize();

    String getExportFlags();

    int getJournalRequests();

    long getJournalBytes();

    long getJournalReplays();

    void reconnect();

    void retarget(String address, int port);
}
