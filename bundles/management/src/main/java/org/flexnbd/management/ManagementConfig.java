package org.flexnbd.management;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "flexnbd management", description = "The flexnbd:type=Proxy MBean and its JMX connector")
@interface ManagementConfig {
    @AttributeDefinition(description = "Port of a JMX RMI connector (registry and server) on 127.0.0.1 only;"
            + " 0 for none (local attach still works)", min = "0", max = "65535")
    int jmxPort() default 0;
}
