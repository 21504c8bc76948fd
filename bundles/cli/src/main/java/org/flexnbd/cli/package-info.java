/**
 * The command line of flexnbd-proxy: flags to ConfigAdmin configurations, usage, exit status. Exports nothing.
 */
package org.flexnbd.cli;
