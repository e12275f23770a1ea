import Testing
@testable import PGClient

/// The pool's placement policy, without a server.
@Suite("Connection picker")
struct ConnectionPickerTests {
    struct Connection: PipelineLoad {
        var queriesInFlight: Int
        var lastProgressNanos: UInt64 = 0
    }

    let picker = ConnectionPicker(preferredDepth: 4, stallNanos: 1_000_000)
    let now: UInt64 = 10_000_000_000

    @Test func packsTheFirstConnectionBeforeUsingTheNext() throws {
        var connections = [Connection(queriesInFlight: 0), Connection(queriesInFlight: 0)]
        var placed: [Int] = []
        for _ in 0..<6 {
            let choice = try #require(picker.choose(connections, now: now))
            placed.append(choice.index)
            #expect(!choice.saturated)
            connections[choice.index].queriesInFlight += 1
            connections[choice.index].lastProgressNanos = now
        }
        #expect(placed == [0, 0, 0, 0, 1, 1])
    }

    @Test func skipsAConnectionThatStoppedAnswering() {
        let connections = [
            Connection(queriesInFlight: 1, lastProgressNanos: now - 5_000_000),  // a slow statement at its head
            Connection(queriesInFlight: 2, lastProgressNanos: now - 100_000),
        ]
        #expect(picker.choose(connections, now: now) == .init(index: 1, load: 2, saturated: false))
    }

    @Test func progressRecordedAfterNowCountsAsAnswering() {
        // Another thread may record progress (or a connection's first query) between the
        // caller's reading of the clock and its look at the connections. Such a connection
        // answers; it must not look silent for 2⁶⁴ ns and lose to one stuck behind a slow
        // statement (seen: the fast queries of a test queued behind a pg_sleep).
        let connections = [
            Connection(queriesInFlight: 1, lastProgressNanos: now - 25_000_000),  // pg_sleep at its head
            Connection(queriesInFlight: 4, lastProgressNanos: now + 40_000),
        ]
        #expect(picker.choose(connections, now: now) == .init(index: 1, load: 4, saturated: true))
    }

    @Test func anIdleConnectionIsNeverStalled() {
        let connections = [Connection(queriesInFlight: 0, lastProgressNanos: 0)]
        #expect(picker.choose(connections, now: now) == .init(index: 0, load: 0, saturated: false))
    }

    @Test func whenAllAreFullOrStalledTheLeastLoadedThatAnswersIsUsedAndThePoolShouldGrow() {
        let connections = [
            Connection(queriesInFlight: 4, lastProgressNanos: now),
            Connection(queriesInFlight: 2, lastProgressNanos: now - 5_000_000),
            Connection(queriesInFlight: 7, lastProgressNanos: now),
        ]
        #expect(picker.choose(connections, now: now) == .init(index: 0, load: 4, saturated: true))
        #expect(picker.choose(Array(connections.suffix(2)), now: now) == .init(index: 1, load: 7, saturated: true),
                "one that answers, however loaded, before one that stalled")
        #expect(picker.choose([connections[1]], now: now) == .init(index: 0, load: 2, saturated: true),
                "a stalled one when nothing else is open")
        let allSilent = [
            Connection(queriesInFlight: 1, lastProgressNanos: now - 900_000_000),  // a slow statement
            Connection(queriesInFlight: 40, lastProgressNanos: now - 3_000_000),  // busy, answered recently
        ]
        #expect(picker.choose(allSilent, now: now) == .init(index: 1, load: 40, saturated: true),
                "when all look stalled, the one that answered last, not the least loaded")
    }

    @Test func noConnectionNoChoice() {
        #expect(picker.choose([Connection](), now: now) == nil)
    }

    @Test func depthOneSpreadsOverTheLeastLoaded() {
        let spreading = ConnectionPicker(preferredDepth: 1, stallNanos: 1_000_000)
        let connections = [
            Connection(queriesInFlight: 3, lastProgressNanos: now),
            Connection(queriesInFlight: 1, lastProgressNanos: now),
            Connection(queriesInFlight: 0, lastProgressNanos: now),
        ]
        #expect(spreading.choose(connections, now: now) == .init(index: 2, load: 0, saturated: false))
        #expect(spreading.choose(Array(connections.prefix(2)), now: now) == .init(index: 1, load: 1, saturated: true))
    }
}
