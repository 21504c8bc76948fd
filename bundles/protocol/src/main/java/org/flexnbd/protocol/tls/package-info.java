/**
 * TLS for NBD connections with the JDK's own engine: the engine driven on buffers alone (for an event loop), a
 * blocking channel over another one built on it, X.509 credentials read from nbdkit's and libnbd's directory
 * layout, and the modes the two sides take. No OSGi types.
 */
@Export
@Version("1.3.0")
package org.flexnbd.protocol.tls;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
