/**
 * The NBD protocol (the {@code proto.md} of the NetworkBlockDevice project): constants, immutable values, and
 * codecs for the oldstyle and fixed newstyle handshakes from both sides and for the transmission phase.
 * Beside them, what the proxy's bundles share below the protocol: pooled payload memory and the watchdogs' thread.
 * Pure Java: no OSGi types. Decoders validate everything and throw {@link NbdException}.
 */
@Export
@Version("1.2.0")
package org.flexnbd.protocol;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
