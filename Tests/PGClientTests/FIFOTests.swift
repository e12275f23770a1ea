import Testing
@testable import PGClient

/// The queue behind the pool's waiters and each connection's sent statements, without a server.
@Suite("FIFO")
struct FIFOTests {
    @Test func removesInArrivalOrder() {
        var queue = FIFO<Int>()
        for value in 0..<5 { queue.append(value) }
        var removed: [Int] = []
        while let value = queue.removeFirst() { removed.append(value) }
        #expect(removed == [0, 1, 2, 3, 4])
        #expect(queue.isEmpty)
        #expect(queue.first == nil)
    }

    @Test func elementsRemovedByPositionAreSkippedAndTheRestKeepTheirOrder() {
        var queue = FIFO<String>()
        let positions = ["a", "b", "c", "d", "e"].map { queue.append($0) }
        #expect(queue.remove(at: positions[0]) == "a")  // the front
        #expect(queue.remove(at: positions[2]) == "c")  // the middle
        #expect(queue.remove(at: positions[2]) == nil)  // already gone
        #expect(queue.count == 3)
        #expect(queue.first == "b")
        #expect(queue.removeFirst() == "b")
        #expect(queue.first == "d", "the hole where c was is skipped")
        #expect(queue.remove(at: positions[4]) == "e")  // the back
        #expect(queue.removeFirst() == "d")
        #expect(queue.isEmpty)
        #expect(queue.removeFirst() == nil)
    }

    @Test func positionsStayValidWhileTheStorageIsCompacted() {
        // Past the 1,024 dead slots after which the storage drops its front, with the queue never
        // empty, so positions must survive the storage's indices shifting. Counted, not checked
        // one by one: thousands of expectations under a sanitizer slow the whole suite.
        var queue = FIFO<Int>()
        var positions: [Int] = []  // by value
        var expected: [Int] = []
        var mismatches = 0
        for value in 0..<3_000 {
            positions.append(queue.append(value))
            expected.append(value)
            if value.isMultiple(of: 2), queue.removeFirst() != expected.removeFirst() { mismatches += 1 }
            if value.isMultiple(of: 3), !expected.isEmpty {
                let victim = expected.remove(at: expected.count / 2)
                if queue.remove(at: positions[victim]) != victim { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(queue.count == expected.count)
        #expect(queue.remove(at: positions[0]) == nil, "a position of an element long gone finds nothing")
        #expect(queue.remove(at: -1) == nil)
        #expect(queue.remove(at: 1_000_000) == nil)
        #expect(queue.removeAll() == expected)
        #expect(queue.isEmpty)
        let next = queue.append(42)
        #expect(next == 3_000, "positions keep growing after removeAll")
        #expect(queue.remove(at: next) == 42)
    }
}
