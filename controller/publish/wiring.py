"""The publishers a service's config asks for, built and added to it: `[mqtt]`, `[opcua]`, `[[notify]]` and
`[[webhooks]]`, and the watch of `[[printers.maintenance]]` tasks (Prometheus and MTConnect are served by the API's
routes). Lives here, above `farm/`, so the service never imports a publisher."""
from __future__ import annotations

from controller.farm.service import LabService


def attach_publishers(service: LabService) -> LabService:
    """Add the configured publishers to the service (before it starts); a service without them loads neither
    paho nor asyncua."""
    cfg = service.config
    if cfg.mqtt is not None and "mqtt" not in service.publishers:
        from controller.publish.mqtt import MqttPublisher

        service.add_publisher("mqtt", MqttPublisher(cfg.mqtt, service.bus, service.store, service.fleet,
                                                    cfg.api_keys, service.clock))
    if cfg.opcua is not None and "opcua" not in service.publishers:
        from controller.publish.opcua import OpcUaPublisher

        service.add_publisher("opcua", OpcUaPublisher(cfg.opcua, service.bus, service.store, service.fleet,
                                                      service.clock))
    if (cfg.notify or cfg.webhooks) and "notify" not in service.publishers:
        from controller.publish.notify import Notifier

        service.add_publisher("notify", Notifier(cfg, service.bus, service.store, service.clock))
    if any(p.maintenance for p in cfg.printers) and "maintenance" not in service.publishers:
        from controller.publish.maintenance_watch import MaintenanceWatch

        service.add_publisher("maintenance", MaintenanceWatch(cfg, service.bus, service.store, service.clock))
    return service
