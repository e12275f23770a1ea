import Foundation
import HTTPTypes
import Testing
import PGClient
@testable import PGStore

@Suite("Hostile cookies give fresh sessions")
struct HostileCookieTests {
    /// A saved session and its cookie value.
    private func savedSession(_ store: SessionStore, name: String = "sid") async throws -> (Session, String) {
        var session = await store.new(name: name)
        session.values["user"] = "alice"
        let field = try await store.save(&session)
        return (session, cookieValue(from: field))
    }

    private func expectFresh(
        _ store: SessionStore, cookie: String, name: String = "sid", notID id: String,
        reason: Session.FreshReason? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let session = try await store.get(cookieHeader: "\(name)=\(cookie)", name: name)
        #expect(session.isNew, sourceLocation: sourceLocation)
        #expect(session.id != id, "never the ID from the cookie", sourceLocation: sourceLocation)
        #expect(session.values.isEmpty, sourceLocation: sourceLocation)
        if let reason { #expect(session.freshReason == reason, sourceLocation: sourceLocation) }
    }

    @Test func aFlippedByteAnywhere() async throws {
        try await withStore { store in
            let (session, cookie) = try await savedSession(store)
            let bytes = try #require(Base64URL.decode(Substring(cookie).utf8))
            for index in bytes.indices {
                var tampered = bytes
                tampered[index] ^= 0x01
                try await expectFresh(store, cookie: Base64URL.encode(tampered), notID: session.id)
            }
            // The untouched cookie still loads.
            let loaded = try await store.get(cookieHeader: "sid=\(cookie)", name: "sid")
            #expect(loaded.id == session.id)
        }
    }

    @Test func truncatedEmptyGarbageAndHuge() async throws {
        try await withStore { store in
            let (session, cookie) = try await savedSession(store)
            for length in [0, 1, 10, cookie.count / 2, cookie.count - 1] {
                try await expectFresh(store, cookie: String(cookie.prefix(length)), notID: session.id)
            }
            try await expectFresh(store, cookie: "", notID: session.id, reason: .malformed)
            try await expectFresh(store, cookie: "!!!not base64***", notID: session.id, reason: .malformed)
            try await expectFresh(store, cookie: String(repeating: "A", count: 100_000), notID: session.id, reason: .malformed)
            try await expectFresh(store, cookie: cookie + "A", notID: session.id)
            let noCookie = try await store.get(cookieHeader: "other=1; sidx=2", name: "sid")
            #expect(noCookie.freshReason == .noCookie)
        }
    }

    @Test func unknownKeyAndForeignName() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            let (session, cookie) = try await savedSession(store)
            // Same row, other cookie name: the MAC binds the name.
            try await expectFresh(store, cookie: cookie, name: "other", notID: session.id, reason: .badSignature)
            // Another store with another key on the same table cannot read it.
            var configuration = SessionStore.Configuration()
            configuration.tableName = table
            let stranger = try await SessionStore(
                pool: store.pool, keys: [try SessionKey(hashKey: hashKeyB, encryptionKey: encryptionKeyB)],
                configuration: configuration)
            try await expectFresh(stranger, cookie: cookie, notID: session.id, reason: .badSignature)
        }
    }

    @Test func pastMaxAge() async throws {
        try await withStore({ $0.sessionOptions.maxAge = 60 }) { store in
            let (session, _) = try await savedSession(store)
            let codec = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)])
            let old = try codec.sealCookie(
                id: try #require(Base64URL.decode(Substring(session.id).utf8)), name: "sid",
                issuedAt: Int64(Date().timeIntervalSince1970) - 61)
            try await expectFresh(store, cookie: old, notID: session.id, reason: .expired)
        }
    }

    @Test func expiredButNotCleanedRowAndDestroyedSession() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            let (expired, expiredCookie) = try await savedSession(store)
            _ = try await store.pool.query(
                "UPDATE \"\(table)\" SET expires_on = now() - interval '1 second' WHERE key = $1", [.text(expired.id)])
            try await expectFresh(store, cookie: expiredCookie, notID: expired.id, reason: .notFound)
            #expect(try await rowCount(store, table) == 1, "the row is still there, but never served")

            var (destroyed, destroyedCookie) = try await savedSession(store)
            let oldID = destroyed.id
            let expiring = try await store.destroy(&destroyed)
            #expect(expiring.value.contains("Max-Age=0"))
            try await expectFresh(store, cookie: destroyedCookie, notID: oldID, reason: .notFound)
        }
    }

    @Test func keyRotation() async throws {
        let table = StoreTestDatabase.uniqueTable()
        let oldKey = try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)
        let newKey = try SessionKey(hashKey: hashKeyB, encryptionKey: encryptionKeyB)
        try await withStore(keys: [oldKey], table: table) { oldStore in
            let (session, oldCookie) = try await savedSession(oldStore)
            var configuration = SessionStore.Configuration()
            configuration.tableName = table
            let rotated = try await SessionStore(pool: oldStore.pool, keys: [newKey, oldKey], configuration: configuration)
            var loaded = try await rotated.get(cookieHeader: "sid=\(oldCookie)", name: "sid")
            #expect(!loaded.isNew)
            #expect(loaded.id == session.id)
            #expect(loaded.values["user"] == "alice")
            loaded.values["user"] = "bob"
            let newCookie = cookieValue(from: try await rotated.save(&loaded))
            // The new cookie and the rewritten row use the new key: a store with only the new key reads them.
            let onlyNew = try await SessionStore(pool: oldStore.pool, keys: [newKey], configuration: configuration)
            let reread = try await onlyNew.get(cookieHeader: "sid=\(newCookie)", name: "sid")
            #expect(reread.values["user"] == "bob")
            // ... and a store with only the old key does not.
            let fresh = try await oldStore.get(cookieHeader: "sid=\(newCookie)", name: "sid")
            #expect(fresh.isNew)
        }
    }

    @Test func signedOnlyKeysWork() async throws {
        try await withStore(keys: [try SessionKey(hashKey: hashKeyA)]) { store in
            let (session, cookie) = try await savedSession(store)
            let loaded = try await store.get(cookieHeader: "a=b; sid=\(cookie)", name: "sid")
            #expect(loaded.id == session.id)
            #expect(loaded.values["user"] == "alice")
        }
    }
}
