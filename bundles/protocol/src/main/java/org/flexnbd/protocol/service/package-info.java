/**
 * The services the proxy's bundles share. They live in the protocol bundle, which is never updated in a
 * running appliance, so that the bundles providing them (upstream, downstream) export nothing and can be
 * hot-updated without refreshing their consumers.
 */
@Export
@Version("6.0.0")
package org.flexnbd.protocol.service;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
