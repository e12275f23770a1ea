import Foundation
import Hummingbird
import Logging
import PGClient
import PGStore
import PGStoreHummingbird
import ServiceLifecycle
import UnixSignals

// Runs the demo on 127.0.0.1:8080 (PORT overrides) against DATABASE_URL (or PGSTORE_TEST_URL).
// Keys come from SESSION_HASH_KEY and SESSION_ENCRYPTION_KEY (hex); without them it makes random
// ones, and sessions do not survive a restart.

var logger = Logger(label: "pgstore-demo")
logger.logLevel = .info
let environment = ProcessInfo.processInfo.environment
guard let url = environment["DATABASE_URL"] ?? environment["PGSTORE_TEST_URL"] else {
    logger.critical("set DATABASE_URL (scripts/demo does it for you)")
    exit(1)
}

func hexBytes(_ text: String?) -> [UInt8]? {
    guard let text, text.count % 2 == 0, !text.isEmpty else { return nil }
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
        bytes.append(byte)
        index = next
    }
    return bytes
}

do {
    let key: SessionKey
    if let hashKey = hexBytes(environment["SESSION_HASH_KEY"]) {
        key = try SessionKey(hashKey: hashKey, encryptionKey: hexBytes(environment["SESSION_ENCRYPTION_KEY"]))
    } else {
        logger.warning("SESSION_HASH_KEY not set: using random keys; sessions end when the app stops")
        key = .random()
    }
    var poolConfiguration = ConnectionPool.Configuration()
    poolConfiguration.connectionWaitTimeout = .seconds(2)
    let store = try await SessionStore(url: url, keys: [key], poolConfiguration: poolConfiguration, logger: logger)
    let port = Int(environment["PORT"] ?? "") ?? 8080
    let app = Application(
        router: DemoApp.router(store: store),
        configuration: .init(address: .hostname("127.0.0.1", port: port)),
        logger: logger)
    let services = ServiceGroup(
        services: [app, SessionCleanupService(store: store, interval: .seconds(60))],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger)
    try await services.run()
    await store.close()
    logger.info("stopped cleanly")
} catch {
    logger.critical("demo failed: \(error)")
    exit(1)
}
