import Foundation
import HTTPTypes
import Testing
import PGClient
import PGTestSupport
@testable import PGStore

enum StoreTestDatabase {
    static var url: String { get throws { try TestEnvironment.databaseURL } }

    static func uniqueTable(_ prefix: String = "sessions") -> String { TestEnvironment.uniqueName(prefix) }
}

let hashKeyA = [UInt8](repeating: 0xA1, count: 32)
let encryptionKeyA = [UInt8](repeating: 0xA2, count: 32)
let hashKeyB = [UInt8](repeating: 0xB1, count: 64)
let encryptionKeyB = [UInt8](repeating: 0xB2, count: 16)

/// A store on its own table, dropped afterwards.
func withStore<T>(
    keys: [SessionKey]? = nil,
    table: String = StoreTestDatabase.uniqueTable(),
    _ configure: (inout SessionStore.Configuration) -> Void = { _ in },
    _ body: (SessionStore) async throws -> T
) async throws -> T {
    var configuration = SessionStore.Configuration()
    configuration.tableName = table
    configure(&configuration)
    let store = try await SessionStore(
        url: try StoreTestDatabase.url,
        keys: try keys ?? [SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)],
        configuration: configuration)
    do {
        let result = try await body(store)
        _ = try? await store.pool.query("DROP TABLE IF EXISTS \"\(table)\"")
        await store.close()
        return result
    } catch {
        _ = try? await store.pool.query("DROP TABLE IF EXISTS \"\(table)\"")
        await store.close()
        throw error
    }
}

/// The `name=value` part of a Set-Cookie field, as a browser would send it back.
func cookieHeader(from field: HTTPField) -> String {
    String(field.value.split(separator: ";", maxSplits: 1)[0])
}

func cookieValue(from field: HTTPField) -> String {
    let pair = cookieHeader(from: field)
    return String(pair[pair.index(after: pair.firstIndex(of: "=")!)...])
}

/// The hour a session ID begins with (its first 3 bytes, big-endian).
func hourOfID(_ id: String) throws -> Int64 {
    let bytes = try #require(Base64URL.decode(Substring(id).utf8))
    try #require(bytes.count == 32)
    return Int64(bytes[0]) << 16 | Int64(bytes[1]) << 8 | Int64(bytes[2])
}

/// `modified_on` and `expires_on` of the only row of `table`.
func rowTimes(_ store: SessionStore, _ table: String) async throws -> (modified: Date, expires: Date) {
    let row = try #require(try await store.pool.query("SELECT modified_on, expires_on FROM \"\(table)\"").first)
    return (try row.decode(Date.self, column: 0), try row.decode(Date.self, column: 1))
}

func rowCount(_ store: SessionStore, _ table: String) async throws -> Int {
    try await store.pool.query("SELECT count(*) FROM \"\(table)\"").first?.decode(Int.self, column: 0) ?? -1
}

/// Runs `body` with a pool that connects as a new role which may read and write the rows of
/// `table` and nothing more: it may not create in schema `public` (revoked from PUBLIC) nor alter
/// the table, which it does not own. The pool is closed and the role dropped afterwards.
func withRowsOnlyRole<T>(
    on table: String, admin: ConnectionPool, _ body: (_ limited: ConnectionPool) async throws -> T
) async throws -> T {
    let role = StoreTestDatabase.uniqueTable("reader")
    _ = try await admin.query("CREATE ROLE \(role) LOGIN")
    _ = try await admin.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    _ = try await admin.query("GRANT SELECT, INSERT, UPDATE, DELETE ON \"\(table)\" TO \(role)")
    let limited = try ConnectionPool(url: try StoreTestDatabase.url.replacingOccurrences(of: "postgres@", with: "\(role)@"))
    let result: Result<T, any Error>
    do {
        result = .success(try await body(limited))
    } catch {
        result = .failure(error)
    }
    await limited.close()
    _ = try await admin.query("REVOKE ALL ON \"\(table)\" FROM \(role)")  // a role with privileges cannot be dropped
    _ = try await admin.query("DROP ROLE \(role)")
    return try result.get()
}
