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

    /// `cookie` with the lowest bit of its decoded byte at `index` flipped (negative: from the end).
    private func flipping(byte index: Int, of cookie: String) throws -> String {
        var bytes = try #require(Base64URL.decode(Substring(cookie).utf8))
        bytes[index < 0 ? bytes.count + index : index] ^= 0x01
        return Base64URL.encode(bytes)
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
            let old = codec.sealCookie(
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

    @Test func aBadSignatureOnALiveSessionsIDLoadsNothing() async throws {
        // get reads the row of the ID a cookie names before the signature is checked; a forged
        // cookie for a live session's ID must still get nothing from that row.
        try await withStore { store in
            let (session, cookie) = try await savedSession(store)
            let forged = try flipping(byte: -1, of: cookie)  // the MAC's last byte; the ID is untouched
            #expect(SessionCodec.claimedCookie(in: Substring(forged))?.id == session.id)
            try await expectFresh(store, cookie: forged, notID: session.id, reason: .badSignature)
            // So is one that keeps the MAC and names another ID.
            try await expectFresh(store, cookie: try flipping(byte: 20, of: cookie), notID: session.id, reason: .badSignature)
            let loaded = try await store.get(cookieHeader: "sid=\(cookie)", name: "sid")
            #expect(loaded.id == session.id && loaded.values["user"] == "alice", "the session itself is untouched")
        }
    }

    @Test func theFirstValidOfSeveralCookiesWinsAndAtMostFourAreTried() async throws {
        try await withStore { store in
            let (first, firstCookie) = try await savedSession(store)
            let (second, secondCookie) = try await savedSession(store)
            let forged = try flipping(byte: -1, of: firstCookie)
            let get = { (header: String) in try await store.get(cookieHeader: header, name: "sid") }
            #expect(try await get("sid=\(forged); sid=\(secondCookie)").id == second.id)
            #expect(try await get("sid=\(secondCookie); sid=\(firstCookie)").id == second.id)
            #expect(try await get("sid=garbage; other=1; sid=\(firstCookie)").id == first.id)
            let fiveDeep = try await get("sid=a; sid=b; sid=c; sid=d; sid=\(firstCookie)")
            #expect(fiveDeep.isNew && fiveDeep.id != first.id, "a fifth copy is not tried")
            // The reason is the last tried cookie's.
            #expect(try await get("sid=\(forged); sid=garbage").freshReason == .malformed)
            #expect(try await get("sid=garbage; sid=\(forged)").freshReason == .badSignature)
        }
    }

    @Test func dataThatDoesNotVerifyGivesAFreshSession() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            let (session, cookie) = try await savedSession(store)
            _ = try await store.pool.query(
                "UPDATE \"\(table)\" SET data = set_byte(data, 20, get_byte(data, 20) # 1) WHERE key = $1", [.text(session.id)])
            try await expectFresh(store, cookie: cookie, notID: session.id, reason: .corruptData)
        }
    }

    @Test func encryptedCookiesOfEarlierReleasesStillLoadTheirSession() async throws {
        // The cookie of CodecTests.encryptedCookiesOfEarlierReleasesStillOpen: sealed before
        // cookies became signed-only, its ID is known only once the actor has opened it, so get
        // reads the row after that. A store whose maxAge is 0 (browser-session cookies) accepts
        // its issue time of 1970.
        let earlier = "AgAAAAAAAAPoinj_QGa-A9okdksixWzIXt1-G-AnLRSHBYapJhXu_IH-OjJuPYUx2QSxmxhsJvOkRpNB9KRDaaDPW2JA8a74zFqlmPrNb-jKdJo0s11b6jMHWp67MBaTvdtsTsI"
        try await withStore({ $0.sessionOptions.maxAge = 0 }) { store in
            var session = await store.new(name: "sid")
            session.id = Base64URL.encode((0..<32).map { UInt8($0) })
            session.values["user"] = "carol"
            _ = try await store.save(&session)
            #expect(SessionCodec.claimedCookie(in: Substring(earlier)) == nil)
            let loaded = try await store.get(cookieHeader: "sid=\(earlier)", name: "sid")
            #expect(!loaded.isNew)
            #expect(loaded.id == session.id)
            #expect(loaded.values["user"] == "carol")
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
