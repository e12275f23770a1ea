import Foundation
import Testing
import PGClient
@testable import PGStore

/// Two requests of one browser that load the same session and both save it: the later save must
/// not undo the earlier one's changes (the Go pgstore's last writer overwrote the whole row).
@Suite("Concurrent saves of one session")
struct ConcurrentSaveTests {
    /// Signed only (the data ends with its HMAC) and signed + encrypted (it ends with its AES-GCM
    /// tag): the two ways a row's data is sealed.
    static let keyKinds: [String] = ["signed", "encrypted"]

    static func keys(_ kind: String) throws -> [SessionKey] {
        kind == "signed"
            ? [try SessionKey(hashKey: hashKeyA)]
            : [try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)]
    }

    @Test func mergeAppliesOnlyTheSessionsOwnChanges() {
        let loaded: [String: SessionValue] = ["a": 1, "b": 1, "gone": 1]
        var changed = loaded
        changed["a"] = 2  // changed here
        changed["new"] = "x"  // added here
        changed["gone"] = nil  // removed here
        let current: [String: SessionValue] = ["a": 1, "b": 5, "gone": 1, "other": true]  // b, other: another request
        let merged = ConcurrentSaveMerge.merged(current: current, loaded: loaded, changed: changed)
        #expect(merged == ["a": 2, "b": 5, "new": "x", "other": true])
        // A key both changed: this session's value wins.
        #expect(ConcurrentSaveMerge.merged(current: ["a": 7], loaded: ["a": 1], changed: ["a": 2]) == ["a": 2])
        // A key this session did not touch keeps the row's value, even one removed elsewhere.
        #expect(ConcurrentSaveMerge.merged(current: [:], loaded: ["a": 1], changed: ["a": 1]) == [:])
        // Nothing loaded: every value is this session's change.
        #expect(ConcurrentSaveMerge.merged(current: ["b": 1], loaded: nil, changed: ["a": 1]) == ["a": 1, "b": 1])
    }

    @Test(arguments: keyKinds)
    func changesToDifferentKeysBothSurvive(_ kind: String) async throws {
        try await withStore(keys: try Self.keys(kind)) { store in
            var original = await store.new(name: "sid")
            original.values = ["cart": [1], "theme": "light", "draft": "hello"]
            let cookie = cookieHeader(from: try await store.save(&original))

            var tabA = try await store.get(cookieHeader: cookie, name: "sid")
            var tabB = try await store.get(cookieHeader: cookie, name: "sid")
            tabA.values["cart"] = [1, 2]
            tabA.values["draft"] = nil
            _ = try await store.save(&tabA)
            tabB.values["theme"] = "dark"
            _ = try await store.save(&tabB)

            let expected: [String: SessionValue] = ["cart": [1, 2], "theme": "dark"]
            #expect(tabB.values == expected, "the saving session sees the merged values")
            #expect(try await store.get(cookieHeader: cookie, name: "sid").values == expected)
            // Merged and stored: saving tabB again writes nothing new and loses nothing.
            #expect(!tabB.hasChanges)
            tabB.values["theme"] = "blue"
            _ = try await store.save(&tabB)
            #expect(try await store.get(cookieHeader: cookie, name: "sid").values == ["cart": [1, 2], "theme": "blue"])
        }
    }

    @Test(arguments: keyKinds)
    func forAKeyBothChangedTheLaterSaveWins(_ kind: String) async throws {
        try await withStore(keys: try Self.keys(kind)) { store in
            var original = await store.new(name: "sid")
            original.values = ["step": 1, "kept": true]
            let cookie = cookieHeader(from: try await store.save(&original))
            var first = try await store.get(cookieHeader: cookie, name: "sid")
            var second = try await store.get(cookieHeader: cookie, name: "sid")
            first.values["step"] = 2
            second.values["step"] = 3
            _ = try await store.save(&first)
            _ = try await store.save(&second)
            #expect(try await store.get(cookieHeader: cookie, name: "sid").values == ["step": 3, "kept": true])
        }
    }

    @Test func aSessionThatChangedNothingDoesNotUndoAnothersChange() async throws {
        try await withStore { store in
            var original = await store.new(name: "sid")
            original.values["n"] = 1
            let cookie = cookieHeader(from: try await store.save(&original))
            var writer = try await store.get(cookieHeader: cookie, name: "sid")
            var reader = try await store.get(cookieHeader: cookie, name: "sid")
            writer.values["n"] = 2
            _ = try await store.save(&writer)
            // The reader's expiry is due: only the expiry is written, not its stale values.
            reader.touchDue = true
            _ = try await store.save(&reader)
            #expect(try await store.get(cookieHeader: cookie, name: "sid").values == ["n": 2])
        }
    }

    @Test func regenerateIDKeepsAConcurrentRequestsChange() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            var original = await store.new(name: "sid")
            original.values["visits"] = 1
            let oldCookie = cookieHeader(from: try await store.save(&original))
            var login = try await store.get(cookieHeader: oldCookie, name: "sid")
            var other = try await store.get(cookieHeader: oldCookie, name: "sid")
            other.values["cart"] = ["book"]
            _ = try await store.save(&other)
            login.values["user"] = "ada"
            let newCookie = cookieHeader(from: try await store.regenerateID(&login, userID: "ada"))
            let expected: [String: SessionValue] = ["visits": 1, "cart": ["book"], "user": "ada"]
            #expect(login.values == expected)
            #expect(try await store.get(cookieHeader: newCookie, name: "sid").values == expected)
            #expect(try await store.get(cookieHeader: oldCookie, name: "sid").freshReason == .notFound)
            #expect(try await rowCount(store, table) == 1)
            // The binding holds on the merged row.
            #expect(try await store.destroySessions(ofUser: "ada") == 1)
        }
    }

    @Test func aRowDestroyedWhileASaveMergesStaysGone() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            var original = await store.new(name: "sid")
            original.values["n"] = 1
            let cookie = cookieHeader(from: try await store.save(&original))
            var stale = try await store.get(cookieHeader: cookie, name: "sid")
            var writer = try await store.get(cookieHeader: cookie, name: "sid")
            writer.values["n"] = 2
            _ = try await store.save(&writer)  // the stale session's fingerprint no longer matches
            _ = try await store.destroy(&writer)  // and then the row is gone
            stale.values["m"] = 3
            let error = await #expect(throws: SessionStoreError.self) { try await store.save(&stale) }
            #expect(error?.code == .sessionNotFound)
            #expect(try await rowCount(store, table) == 0)
        }
    }

    /// Twenty requests of one session, all loaded before any saves, then saved at once, each
    /// with a key of its own: all but the first save find the row changed and merge (under the
    /// row's lock), and every key is kept.
    @Test func twentyConcurrentRequestsOfOneSessionKeepEveryKey() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            var original = await store.new(name: "sid")
            original.values["owner"] = "ada"
            let cookie = cookieHeader(from: try await store.save(&original))
            var loaded: [Session] = []
            for _ in 0..<20 { loaded.append(try await store.get(cookieHeader: cookie, name: "sid")) }
            let requests = loaded
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, request) in requests.enumerated() {
                    group.addTask {
                        var session = request
                        session.values["request\(index)"] = .int(index)
                        _ = try await store.save(&session)
                        #expect(session.values["request\(index)"] == .int(index))
                        #expect(session.values["owner"] == "ada")
                    }
                }
                try await group.waitForAll()
            }
            let stored = try await store.get(cookieHeader: cookie, name: "sid").values
            #expect(stored["owner"] == "ada")
            for index in 0..<20 {
                #expect(stored["request\(index)"] == .int(index), "request \(index)'s change is kept")
            }
            #expect(stored.count == 21)
            // A transaction left open would still hold the lock its FOR UPDATE took on the table.
            let locks = try await store.pool.query(
                "SELECT count(*) FROM pg_locks WHERE relation = to_regclass($1)", [.text("\"\(table)\"")])
            #expect(try locks.first?.decode(Int.self, column: 0) == 0, "no merge left a transaction open")
        }
    }
}
