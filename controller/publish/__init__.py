"""Publishers: the factory's standards (MQTT, Prometheus, OPC UA, MTConnect) fed from the event bus."""
