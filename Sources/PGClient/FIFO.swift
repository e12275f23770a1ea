/// A first-in, first-out queue with O(1) amortised removal from the front, and O(1) removal from
/// anywhere by the position ``append(_:)`` returned.
///
/// Removal from the middle leaves a hole that the front skips when it reaches it: a thousand
/// callers cancelled while they waited for a connection cost a thousand constant-time removals,
/// not a thousand copies of the queue.
struct FIFO<Element> {
    private var storage: [Element?] = []
    /// The index of the first element still queued (`storage.count` when none is).
    private var head = 0
    /// How many positions the storage dropped from its front so far: `storage[i]` holds the
    /// element at position `dropped + i`.
    private var dropped = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }
    var first: Element? { isEmpty ? nil : storage[head] }

    /// Appends `element`; returns its position, for ``remove(at:)``. Positions only grow.
    @discardableResult
    mutating func append(_ element: Element) -> Int {
        storage.append(element)
        count += 1
        return dropped + storage.count - 1
    }

    @discardableResult
    mutating func removeFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        count -= 1
        skipHoles()
        return element
    }

    /// Removes the element at `position`; `nil` if it is no longer queued.
    mutating func remove(at position: Int) -> Element? {
        let index = position - dropped
        guard index >= head, index < storage.count, let element = storage[index] else { return nil }
        storage[index] = nil
        count -= 1
        if index == head { skipHoles() }
        return element
    }

    /// Removes and returns every element, first to last.
    mutating func removeAll() -> [Element] {
        let elements = storage[head...].compactMap { $0 }
        dropped += storage.count
        storage.removeAll(keepingCapacity: true)
        head = 0
        count = 0
        return elements
    }

    /// Moves `head` past removed elements, and gives back the storage's dead front once it is at
    /// least half of it.
    private mutating func skipHoles() {
        while head < storage.count && storage[head] == nil { head += 1 }
        if head == storage.count {
            dropped += storage.count
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= storage.count {
            storage.removeFirst(head)
            dropped += head
            head = 0
        }
    }
}
