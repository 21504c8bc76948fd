package org.flexnbd.management;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "flexnbd management", description = "The flexnbd:type=Proxy MBean and its JMX connector")
@interface ManagementConfig {
    @AttributeDefinition(description = "Port of a JMX RMI connector (registry and server) on 127.0.0.1 only;"
            + " 0 for none (local attach still works). Needs jmxPasswordFile", min = "0", max = "65535")
    int jmxPort() default 0;

    @AttributeDefinition(description = "Absolute path of the JMX password file (JDK format: 'user password' lines),"
            + " readable by its owner only; without it no connector is opened")
    String jmxPasswordFile() default "";

    @AttributeDefinition(description = "Absolute path of the JMX access file (JDK format: 'user readonly' or"
            + " 'user readwrite' lines), readable by its owner only; empty: every user is read-only")
    String jmxAccessFile() default "";

    @AttributeDefinition(description = "JMX connections open at once; more are closed at once", min = "1",
            max = "1024")
    int jmxMaxConnections() default 16;

    @AttributeDefinition(description = "Seconds a JMX connection may stay idle before it is closed", min = "1",
            max = "3600")
    int jmxIdleSeconds() default 60;
}
