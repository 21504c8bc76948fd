package org.flexnbd.management;

import java.rmi.RemoteException;

/** Why something failed, as one line fit for a log line or a JMX client (no class a remote side might lack). */
final class Reasons {
    private Reasons() {
    }

    static String of(Throwable e) {
        Throwable t = e;
        // A RemoteException's message repeats its nested exception's over several lines: use the nested one.
        while (t instanceof RemoteException r && r.detail != null && r.detail != t) {
            t = r.detail;
        }
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            m = t.getClass().getSimpleName();
        }
        return m.replaceAll("\\s+", " ").trim();
    }
}
