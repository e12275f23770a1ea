import CLibPQ
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Something the event loop tells when its file descriptor is ready.
protocol EventLoopHandler: AnyObject {
    func handleEvent(readable: Bool, writable: Bool, hangup: Bool)
    /// Called once per loop iteration after jobs ran, if the handler asked for it with
    /// ``EventLoop/flushAtEndOfTick(_:)``.
    func flushAtEndOfTick()
}

/// One thread that owns a set of libpq connections and waits for their sockets with epoll.
///
/// Why a dedicated epoll thread rather than DispatchSource or a cooperative task:
/// - libpq connections are not thread-safe; every call on a `PGconn` must come from one thread at a
///   time. Confining all of a pool's connections to this thread gives that without a lock per call.
/// - No libpq call, blocking or not, ever runs on Swift's cooperative threads. The few libpq steps
///   that can block briefly (host name lookup in `PQconnectStartParams`) block this thread only.
/// - Work submitted from many tasks between two wake-ups is handled in one batch, so the queries of
///   many callers leave in one `send` per connection: that is what makes pipelining pay.
/// - DispatchSource would hop through a dispatch queue for every readiness event, costing latency
///   and allocations on the hot path.
final class EventLoop: @unchecked Sendable {
    /// Work for the loop thread. Queries have a case of their own: a closure per query would cost
    /// an allocation for its context and another to store it in the queue (closures are kept in
    /// arrays behind a reabstraction thunk).
    private enum Job {
        case run(@Sendable () -> Void)
        case submit(PendingQuery, LibPQConnection)
        /// A task that prefers this loop as its executor (see ``TaskExecutor``).
        case task(UnownedJob)
    }

    /// The queue of work for the loop thread, and whether the thread has stopped taking it.
    private struct Queue {
        var jobs: [Job] = []
        var stopped = false
    }

    // Shared between threads.
    private let epollFD: Int32
    private let wakeFD: Int32
    private let queue = Mutex(Queue())
    private let sleeping = Atomic<Bool>(false)
    private let threadID = Atomic<UInt>(0)  // pthread_t of the loop thread, once it runs
    private let terminated = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    // Confined to the loop thread.
    private var handlers: [UInt64: any EventLoopHandler] = [:]
    private var nextToken: UInt64 = 1
    private var timers: [UInt64: (deadline: UInt64, body: () -> Void)] = [:]
    private var nextTimerID: UInt64 = 1
    private var endOfTick: [any EventLoopHandler] = []
    private var running = true
    private var spareJobs: [Job] = []
    private var spareTasks: [UnownedJob] = []
    /// How many ready tasks run before the queries they sent are flushed. Gets at 64 tasks on
    /// the loop: one flush per batch 35,000-63,000 gets/s, every 8 tasks 50,000-73,000 (eight
    /// alternating pairs, 2026-12-02, two pipelines of 32). With one pipeline of 64 (the pool's
    /// default since), every 16 against every 8: 92,500 against 87,800 gets/s and 9.7 against
    /// 10.5 us of client CPU per get (medians of eight alternating pairs, 16 ahead in seven);
    /// every 32 behind both. Each send wakes the server's process, which on this VM costs the
    /// sender about 10 us of kernel time (loopback delivery and the wake-up), so fewer, larger
    /// sends pay until the server starts to wait for them.
    private static let tasksPerFlush = 16
    private var spareEndOfTick: [any EventLoopHandler] = []

    static let readable: UInt32 = 0x001  // EPOLLIN
    static let writable: UInt32 = 0x004  // EPOLLOUT
    static let error: UInt32 = 0x008  // EPOLLERR
    static let hangup: UInt32 = 0x010  // EPOLLHUP

    init() throws {
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else {
            throw PGError(code: .connectionFailed, message: "epoll_create1 failed: errno \(errno)")
        }
        let wakeFD = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard wakeFD >= 0 else {
            close(epollFD)
            throw PGError(code: .connectionFailed, message: "eventfd failed: errno \(errno)")
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        var event = epoll_event()
        event.events = Self.readable
        event.data.u64 = 0  // token 0 is the wake-up descriptor
        epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
    }

    /// Starts the loop's thread.
    func start() throws {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { argument in
            guard let argument else { return nil }
            let loop = Unmanaged<EventLoop>.fromOpaque(argument).takeRetainedValue()
            loop.run()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<EventLoop>.fromOpaque(box).release()
            throw PGError(code: .connectionFailed, message: "could not start the event loop thread: \(rc)")
        }
        pthread_detach(thread)
    }

    /// Runs `job` on the loop thread, soon. Safe to call from any thread.
    func execute(_ job: @escaping @Sendable () -> Void) {
        append(.run(job))
    }

    /// Hands `query` to `connection` on the loop thread, soon. Safe to call from any thread.
    func submit(_ query: PendingQuery, to connection: LibPQConnection) {
        // A task running on this thread (it prefers the loop as its executor) hands its query
        // over at once; it is sent with the next flush.
        if isLoopThread {
            connection.submit(query)
        } else {
            append(.submit(query, connection))
        }
    }

    private func append(_ job: Job) {
        let accepted = queue.withLock(announcingTo: self) { queue in
            if queue.stopped { return false }
            queue.jobs.append(job)
            return true
        }
        guard accepted else {
            reject(job)
            return
        }
        // Only pay for the wake-up write when the loop is (about to be) asleep in epoll_wait.
        if sleeping.exchange(false, ordering: .sequentiallyConsistent) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Stops the loop once the jobs already queued have run. Handlers should be closed first.
    func shutdown() {
        execute { [self] in running = false }
    }

    /// Waits until the loop thread has stopped.
    func awaitTermination() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = terminated.withLock(announcingTo: self) { state -> Bool in
                if state.done { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    // MARK: Loop-thread API

    /// Registers `fd`; returns the token that names this registration.
    func register(fd: Int32, handler: any EventLoopHandler, read: Bool, write: Bool) -> UInt64 {
        let token = nextToken
        nextToken += 1
        handlers[token] = handler
        var event = epoll_event()
        event.events = interest(read: read, write: write)
        event.data.u64 = token
        epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
        return token
    }

    /// Changes what `fd` is watched for. Re-adds it when the kernel dropped it (libpq closed and
    /// reopened a socket under the same number).
    func modify(token: UInt64, fd: Int32, read: Bool, write: Bool) {
        var event = epoll_event()
        event.events = interest(read: read, write: write)
        event.data.u64 = token
        if epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event) != 0 && errno == ENOENT {
            epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
        }
    }

    /// Stops watching `fd` (call before the descriptor is closed).
    func unregister(token: UInt64, fd: Int32) {
        handlers[token] = nil
        if fd >= 0 {
            var event = epoll_event()
            epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &event)
        }
    }

    /// Runs `body` on the loop thread after `delay`; returns an ID for ``cancelTimer(_:)``.
    func scheduleTimer(after delay: Duration, _ body: @escaping () -> Void) -> UInt64 {
        let id = nextTimerID
        nextTimerID += 1
        let nanos = UInt64(max(0, delay.components.seconds)) * 1_000_000_000
            + UInt64(max(0, delay.components.attoseconds / 1_000_000_000))
        timers[id] = (Self.monotonicNanos() &+ nanos, body)
        return id
    }

    func cancelTimer(_ id: UInt64) { timers[id] = nil }

    /// Asks for `handler.flushAtEndOfTick()` after the current batch of jobs.
    func flushAtEndOfTick(_ handler: any EventLoopHandler) { endOfTick.append(handler) }

    // MARK: The loop

    private func interest(read: Bool, write: Bool) -> UInt32 {
        (read ? Self.readable : 0) | (write ? Self.writable : 0)
    }

    static func monotonicNanos() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    private func run() {
        threadID.store(Self.currentThread(), ordering: .relaxed)
        Self.becomeBatchThread()
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while running {
            let haveJobs = runJobs()
            flushEndOfTick()
            if !running { break }

            var timeout: Int32 = -1
            if haveJobs {
                timeout = 0
            } else {
                sleeping.store(true, ordering: .sequentiallyConsistent)
                // A job may have arrived between runJobs() and the store: don't sleep on it.
                if queue.withLock(announcingTo: self, { !$0.jobs.isEmpty }) {
                    sleeping.store(false, ordering: .sequentiallyConsistent)
                    timeout = 0
                } else {
                    timeout = timerTimeoutMillis()
                }
            }
            let count = events.withUnsafeMutableBufferPointer { buffer in
                epoll_wait(epollFD, buffer.baseAddress, Int32(buffer.count), timeout)
            }
            sleeping.store(false, ordering: .sequentiallyConsistent)
            if count > 0 {
                for index in 0..<Int(count) {
                    let event = events[index]
                    let token = event.data.u64
                    if token == 0 {
                        var value: UInt64 = 0
                        _ = read(wakeFD, &value, 8)
                        continue
                    }
                    guard let handler = handlers[token] else { continue }
                    let flags = event.events
                    handler.handleEvent(
                        readable: flags & Self.readable != 0,
                        writable: flags & Self.writable != 0,
                        hangup: flags & (Self.error | Self.hangup) != 0
                    )
                }
            }
            fireTimers()
        }
        let leftover = queue.withLock(announcingTo: self) { queue -> [Job] in
            queue.stopped = true
            defer { queue.jobs = [] }
            return queue.jobs
        }
        // A later thread may be given the same pthread_t.
        threadID.store(0, ordering: .relaxed)
        for job in leftover { reject(job) }
        Glibc.close(epollFD)
        Glibc.close(wakeFD)
        let waiters = terminated.withLock(announcingTo: self) { state -> [CheckedContinuation<Void, Never>] in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Puts the calling thread (the loop's) under `SCHED_BATCH`.
    ///
    /// Why: the thread wakes thousands of times a second (a query's answer, a caller's new
    /// query), and under the default policy each wake-up may preempt the worker thread running
    /// on that core, which then pays a context switch in the middle of a caller's codec work. A
    /// batch thread waits for the core to come free at the next scheduling point instead (the
    /// kernel does not preempt for it); its share of the CPU is unchanged. Measured 2026-12-03,
    /// get at 64 tasks, pool 8, callers on the global executor: the workers' involuntary context
    /// switches fell from 3,700-10,400 to 2,000-2,500 per thread in four seconds; in 18
    /// alternating pairs of 5-second runs the client CPU per get was lower in 14 (medians 10.8
    /// against 10.2 us); in five alternations paired with pgbench the ratio was higher in all
    /// five (1.76-2.15x with it, 1.61-1.93x without). With the callers on this thread
    /// (``ConnectionPool/taskExecutor``), eight pairs in both orders: throughput higher in five,
    /// CPU per get lower in six; at one task, no difference through the noise.
    /// An unprivileged thread may always switch to it; where it is refused, nothing changes.
    private static func becomeBatchThread() {
        var parameters = sched_param()
        _ = pthread_setschedparam(pthread_self(), schedBatch, &parameters)
    }

    /// `SCHED_BATCH` of <linux/sched.h>, which Glibc's Swift module does not export.
    private static let schedBatch: Int32 = 3

    /// Disposes of a job that came after the thread stopped. A task still runs, on the global
    /// executor; a query fails and stops counting against its connection (its caller picked the
    /// connection just before the pool closed); other work has nothing left to act on, the
    /// pool's connections being closed.
    private func reject(_ job: Job) {
        switch job {
        case .task(let task): globalConcurrentExecutor.enqueue(ExecutorJob(task))
        case .submit(let query, let connection): connection.refuse(query)
        case .run: break
        }
    }

    /// Runs the queued jobs; returns whether there were any.
    private func runJobs() -> Bool {
        // Swap the queue with a spare, empty buffer so neither side reallocates on every tick.
        var batch = spareJobs
        spareJobs = []
        queue.withLock(announcingTo: self) { swap(&batch, &$0.jobs) }
        if batch.isEmpty {
            spareJobs = batch
            return false
        }
        var tasks = spareTasks
        spareTasks = []
        for job in batch {
            switch job {
            case .run(let body): body()
            case .submit(let query, let connection): connection.submit(query)
            case .task(let job): tasks.append(job)
            }
        }
        batch.removeAll(keepingCapacity: true)
        spareJobs = batch
        if !tasks.isEmpty {
            // Queries leave before the tasks run, so the server works on them meanwhile.
            flushEndOfTick()
            let executor = asUnownedTaskExecutor()
            for (index, job) in tasks.enumerated() {
                job.runSynchronously(on: executor)
                // The queries of the tasks run so far leave now rather than after the whole batch.
                if index % Self.tasksPerFlush == Self.tasksPerFlush - 1 { flushEndOfTick() }
            }
            tasks.removeAll(keepingCapacity: true)
        }
        spareTasks = tasks
        return true
    }

    private func flushEndOfTick() {
        guard !endOfTick.isEmpty else { return }
        var pending = spareEndOfTick
        swap(&pending, &endOfTick)
        for handler in pending { handler.flushAtEndOfTick() }
        pending.removeAll(keepingCapacity: true)
        spareEndOfTick = pending
    }

    private func timerTimeoutMillis() -> Int32 {
        guard let next = timers.values.map(\.deadline).min() else { return -1 }
        let now = Self.monotonicNanos()
        if next <= now { return 0 }
        return Int32(min(UInt64(Int32.max), (next - now + 999_999) / 1_000_000))
    }

    private func fireTimers() {
        guard !timers.isEmpty else { return }
        let now = Self.monotonicNanos()
        let due = timers.filter { $0.value.deadline <= now }
        for (id, timer) in due.sorted(by: { $0.value.deadline < $1.value.deadline }) {
            timers[id] = nil
            timer.body()
        }
    }
}

/// Tasks that prefer the loop run on its thread, between its turns at the sockets: a query's
/// answer then resumes its caller without waking another thread, and the caller's next query
/// reaches its connection without waking this one. Once the thread has stopped, tasks that still
/// prefer it run on the global executor.
extension EventLoop: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        append(.task(UnownedJob(job)))
    }

    /// Whether the caller runs on the loop's thread.
    var isLoopThread: Bool { threadID.load(ordering: .relaxed) == Self.currentThread() }

    private static func currentThread() -> UInt {
        #if canImport(Glibc)
        UInt(pthread_self())
        #else
        UInt(bitPattern: pthread_self())
        #endif
    }
}
