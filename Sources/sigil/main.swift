import Hummingbird
import SQLiteKit
import PostgresKit
import Prometheus
import ServiceLifecycle
import ArgumentParser
import X509
print("placeholder")
