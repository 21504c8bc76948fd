/**
 * Management: the {@code flexnbd:type=Proxy} MBean, fed by the {@code Upstream} and {@code Downstream} services, and
 * the optional JMX RMI connector on a loopback port. Private: it exports nothing, so it can be hot-updated.
 */
package org.flexnbd.management;
