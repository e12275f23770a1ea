import Foundation
import HTTPTypes
import Testing
import PGClient
@testable import PGStore

/// The Go pgstore's own tests, ported.
@Suite("Ported from Go's pgstore")
struct GoPortTests {
    @Test func valuesRoundTripOverThreeRequests() async throws {
        try await withStore { store in
            // Request 1: a fresh session gets a value and is saved.
            var request = HTTPRequest(method: .get, scheme: "http", authority: "example.com", path: "/")
            var session = try await store.get(request, name: "mysess")
            #expect(session.isNew)
            #expect(session.freshReason == .noCookie)
            session.values["counter"] = 1
            session.values["name"] = "Ada"
            session.values["nested"] = ["list": [1, 2.5, "three", nil, true]]
            let firstCookie = try await store.save(&session)

            // Request 2: the cookie loads it; change and save.
            request.headerFields[.cookie] = cookieHeader(from: firstCookie)
            var second = try await store.get(request, name: "mysess")
            #expect(!second.isNew)
            #expect(second.id == session.id)
            #expect(second.values["counter"] == 1)
            #expect(second.values["nested"] == ["list": [1, 2.5, "three", nil, true]])
            second.values["counter"] = 2
            let secondCookie = try await store.save(&second)

            // Request 3: sees request 2's change.
            request.headerFields[.cookie] = cookieHeader(from: secondCookie)
            let third = try await store.get(request, name: "mysess")
            #expect(third.values["counter"] == 2)
            #expect(third.values["name"] == "Ada")
        }
    }

    @Test func tooLargeFailsUntilTheLimitIsRaised() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            var session = await store.new(name: "big")
            session.values["blob"] = .string(String(repeating: "x", count: 5000))
            let error = await #expect(throws: SessionStoreError.self) { try await store.save(&session) }
            #expect(error?.code == .dataTooLarge)
            #expect(try await rowCount(store, table) == 0, "nothing is written")
            await store.setMaxLength(8192)
            let cookie = try await store.save(&session)
            let loaded = try await store.get(cookieHeader: cookieHeader(from: cookie), name: "big")
            #expect(loaded.values["blob"]?.stringValue?.count == 5000)
        }
    }

    @Test func optionsAreUniquePerSession() async throws {
        try await withStore { store in
            var first = await store.new(name: "a")
            var second = await store.new(name: "b")
            first.options.maxAge = 900
            first.options.domain = "example.com"
            #expect(second.options.maxAge == 86_400 * 30)
            #expect(second.options.domain == nil)
            let fresh = await store.new(name: "c")
            #expect(fresh.options == SessionOptions())
            let firstCookie = try await store.save(&first)
            let secondCookie = try await store.save(&second)
            #expect(firstCookie.value.contains("Max-Age=900"))
            #expect(firstCookie.value.contains("Domain=example.com"))
            #expect(secondCookie.value.contains("Max-Age=2592000"))
            #expect(!secondCookie.value.contains("Domain="))
        }
    }

    @Test func cleanupRemovesExpiredRowsWithinItsInterval() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table, { $0.cleanupBatchSize = 7 }) { store in
            for index in 0..<30 {
                var session = await store.new(name: "s")
                session.values["i"] = .int(index)
                _ = try await store.save(&session)
            }
            var live = await store.new(name: "s")
            _ = try await store.save(&live)
            _ = try await store.pool.query("UPDATE \"\(table)\" SET expires_on = now() - interval '1 second' WHERE key <> $1", [.text(live.id)])
            let cleanup = store.startCleanup(interval: .milliseconds(200))
            var remaining = -1
            for _ in 0..<20 {
                try await Task.sleep(for: .milliseconds(100))
                remaining = try await rowCount(store, table)
                if remaining == 1 { break }
            }
            #expect(remaining == 1, "only the live session is left")
            await cleanup.stop()
        }
    }
}
