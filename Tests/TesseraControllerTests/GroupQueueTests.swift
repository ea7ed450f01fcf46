import Foundation
import Testing
@testable import TesseraController
import TesseraPoolAPI

/// Groups, their quotas, the waiting queue, best-effort compute and usage accounting, on the pool's state.
@Suite struct GroupQueueTests {
    typealias S = PoolStateTests

    static func lease(_ owner: String, mib: Int = 1024, percent: Int = 10, vgpus: Int = 1, user: String? = nil) -> LeaseRequest {
        LeaseRequest(spec: VirtualGPUSpec(vgpus: vgpus, memoryMiB: mib, computePercent: percent), requester: "n", program: "p", owner: owner, user: user)
    }

    static let course = GroupDefinition(name: "cs101", members: GroupMembers(users: ["1000", "bob"], namespaces: ["cs101"], podSelectors: [["course": "cs101"]]),
                                        quota: GroupQuota(memoryMiB: 2048, computePercent: 50, vgpus: 3), memberLimit: GroupQuota(vgpus: 2))

    @Test func quotasAreEnforcedAndRefusalsNameTheGroupAndTheLimit() throws {
        var p = try S.pool(nodes: [S.node("a")])
        _ = try p.applyGroups(GroupsDocument(groups: [Self.course]), now: 0)
        let first = try p.grant(Self.lease("uid 1000"), now: 1).0
        #expect(first.group == "cs101")
        _ = try p.grant(Self.lease("uid 7", user: "bob"), now: 1)
        do throws(PoolError) {
            _ = try p.grant(Self.lease("uid 1000"), now: 1)
            Issue.record("over quota")
        } catch {
            #expect(error.code == .unavailable && error.message.contains("group cs101") && error.message.contains("2048 MiB"), "\(error.message)")
        }
        // Nothing was taken by the refusal; a non-member is not limited.
        #expect(p.usage(ofGroup: "cs101") == GroupUsage(memoryMiB: 2048, computePercent: 20, vgpus: 2))
        #expect(try p.grant(Self.lease("uid 5"), now: 1).0.group == nil)
        // The per-member limit names the member.
        _ = try p.applyGroups(GroupsDocument(groups: [GroupDefinition(name: "cs101", members: Self.course.members, quota: GroupQuota(),
                                                                      memberLimit: GroupQuota(vgpus: 1))]), now: 2)
        do throws(PoolError) {
            _ = try p.grant(Self.lease("uid 1000", mib: 1), now: 3)
            Issue.record("over the member limit")
        } catch { #expect(error.message.contains("limit per member (uid 1000)"), "\(error.message)") }
        // Pods: by namespace or label selector.
        let pod = try p.reserve(ReservationRequest(consumer: "pod/1", spec: VirtualGPUSpec(memoryMiB: 512, computePercent: 5),
                                                   displayName: "other/nb", labels: ["course": "cs101"]), now: 4).0
        #expect(pod.group == "cs101")
        let claimed = try p.grant(LeaseRequest(spec: pod.spec, requester: "a", reservation: pod.id), now: 5).0
        #expect(claimed.group == "cs101")
    }

    @Test func malformedGroupsAreRefusedWithNothingChanged() throws {
        var p = try S.pool(nodes: [S.node("a")])
        for bad in [GroupDefinition(name: ""), GroupDefinition(name: "a b"), GroupDefinition(name: "x", quota: GroupQuota(memoryMiB: -1))] {
            #expect(throws: PoolError.self) { try p.applyGroups(GroupsDocument(groups: [Self.course, bad]), now: 0) }
        }
        #expect(throws: PoolError.self) { try p.applyGroups(GroupsDocument(groups: [Self.course, Self.course]), now: 0) }
        #expect(p.groups.isEmpty)
    }

    @Test func theHeadOfTheQueueIsGrantedWhenRoomFrees() throws {
        var p = try S.pool(nodes: [S.node("a", gpus: 1, memoryMiB: 2048)])
        let holder = try p.grant(Self.lease("uid 1", mib: 2048), now: 0).0
        let (first, _) = try p.enqueue(QueueRequest(lease: Self.lease("uid 2", mib: 1024), waitSeconds: 30), now: 1, secret: "s1")
        let (second, _) = try p.enqueue(QueueRequest(lease: Self.lease("uid 3", mib: 1024), waitSeconds: 30), now: 2, secret: "s2")
        #expect(first.state == .waiting && first.position == 1 && second.position == 2)
        #expect(first.reason.contains("cannot place"), "\(first.reason)")
        // Waiting holds nothing.
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 2048 && p.serveQueue(now: 3).isEmpty)
        _ = p.release(lease: holder.id, now: 4)
        let changes = p.serveQueue(now: 4)
        #expect(changes.count == 2)
        let granted = try p.collect(first.id, now: 5).0
        #expect(granted.state == .granted && granted.lease?.attachSecret == "s1")
        #expect(try p.collect(second.id, now: 5).0.state == .granted)
        #expect(p.waiters.isEmpty)
    }

    @Test func waitersThatGiveUpOrGoSilentLeaveTheQueue() throws {
        var p = try S.pool(nodes: [S.node("a", gpus: 1, memoryMiB: 1024)])
        let holder = try p.grant(Self.lease("uid 1", mib: 1024), now: 0).0
        let (a, _) = try p.enqueue(QueueRequest(lease: Self.lease("uid 2"), waitSeconds: 2), now: 1, secret: nil)
        let (b, _) = try p.enqueue(QueueRequest(lease: Self.lease("uid 3"), waitSeconds: 60), now: 1, secret: nil)
        let (c, _) = try p.enqueue(QueueRequest(lease: Self.lease("uid 4"), waitSeconds: 60), now: 1, secret: nil)
        // Past its deadline: refused, and gone.
        do throws(PoolError) { _ = try p.collect(a.id, now: 3.5); Issue.record("no deadline") } catch {
            #expect(error.code == .unavailable && error.message.contains("waited"))
        }
        #expect(try p.collect(b.id, now: 3.5).0.position == 1)
        _ = try p.leaveQueue(b.id, now: 4)
        // c went silent: it lapses, and a later release grants nobody.
        _ = p.expire(now: 1 + PoolState.waiterTimeout + 1)
        #expect(p.waiters.isEmpty)
        _ = p.release(lease: holder.id, now: 20)
        #expect(p.serveQueue(now: 20).isEmpty && p.leases.isEmpty)
        #expect(throws: PoolError.self) { try p.collect(c.id, now: 21) }
    }

    @Test func groupsAreServedByPriorityThenByShareOfTheirQuota() throws {
        var p = try S.pool(nodes: [S.node("a", gpus: 1, memoryMiB: 4096)])
        let big = GroupDefinition(name: "big", members: GroupMembers(users: ["1"]), quota: GroupQuota(memoryMiB: 4096))
        let small = GroupDefinition(name: "small", members: GroupMembers(users: ["2"]), quota: GroupQuota(memoryMiB: 2048))
        let urgent = GroupDefinition(name: "urgent", members: GroupMembers(users: ["3"]), priority: 5)
        _ = try p.applyGroups(GroupsDocument(groups: [big, small, urgent]), now: 0)
        // big holds 1 GiB of 4 (25 %), small 1 GiB of 2 (50 %); 2 GiB stay held by an outsider.
        _ = try p.grant(Self.lease("uid 1"), now: 0)
        _ = try p.grant(Self.lease("uid 2"), now: 0)
        let outsider = try p.grant(Self.lease("uid 9", mib: 2048), now: 0).0
        let s = try p.enqueue(QueueRequest(lease: Self.lease("uid 2"), waitSeconds: 60), now: 1, secret: nil).0
        let b = try p.enqueue(QueueRequest(lease: Self.lease("uid 1"), waitSeconds: 60), now: 2, secret: nil).0
        let u = try p.enqueue(QueueRequest(lease: Self.lease("uid 3"), waitSeconds: 60), now: 3, secret: nil).0
        #expect([s, b, u].allSatisfy { $0.state == .waiting && $0.position == 1 })
        _ = p.release(lease: outsider.id, now: 4)
        _ = p.serveQueue(now: 4)
        // 2 GiB freed, two grants of 1 GiB: the urgent group first, then the group holding the least of its quota.
        let states = Dictionary(uniqueKeysWithValues: p.queueEntries().map { ($0.id, $0.state) })
        #expect(states[u.id] == .granted && states[b.id] == .granted && states[s.id] == .waiting, "\(states)")
    }

    @Test func requestsBeyondTheQuotaAloneAreRefusedInsteadOfQueued() throws {
        var p = try S.pool(nodes: [S.node("a")])
        _ = try p.applyGroups(GroupsDocument(groups: [Self.course]), now: 0)
        do throws(PoolError) {
            _ = try p.enqueue(QueueRequest(lease: Self.lease("uid 1000", mib: 4096), waitSeconds: 60), now: 1, secret: nil)
            Issue.record("queued a request its group can never hold")
        } catch { #expect(error.message.contains("group cs101's quota"), "\(error.message)") }
        #expect(p.waiters.isEmpty)
    }

    @Test func bestEffortReservesNoComputeAndIsNeverRefusedForIt() throws {
        var p = try S.pool(nodes: [S.node("a", gpus: 1, memoryMiB: 2048)])
        _ = try p.grant(Self.lease("uid 1", mib: 64, percent: 100), now: 0)
        // The GPU's compute is fully guaranteed; 16 best-effort programs of 64 MiB still fit in its memory.
        for i in 0..<16 {
            let l = try p.grant(Self.lease("uid \(i + 2)", mib: 64, percent: 0), now: 1).0
            #expect(l.vgpus[0].computePercent == 0)
        }
        #expect(p.gpuInfos()[0].grantedComputePercent == 100)
        #expect(throws: PoolError.self) { try p.grant(Self.lease("uid 99", mib: 64, percent: 1), now: 2) }
        // Memory still binds.
        #expect(throws: PoolError.self) { try p.grant(Self.lease("uid 99", mib: 1024, percent: 0), now: 2) }
    }

    @Test func usageIsAccountedPerUserAndGroup() throws {
        var p = try S.pool(nodes: [S.node("a")])
        _ = try p.applyGroups(GroupsDocument(groups: [Self.course]), now: 0)
        let l = try p.grant(Self.lease("uid 1000", mib: 1024, percent: 50), now: 0).0
        let changes = p.release(lease: l.id, now: 3600)
        let records = changes.compactMap { c -> UsageRecord? in if case .recordUsage(let r) = c { r } else { nil } }
        #expect(records.count == 1)
        _ = try p.grant(Self.lease("uid 5", mib: 2048, percent: 0), now: 3600)
        let rows = p.usage(since: 0, now: 7200, records: records)
        let course = rows.first { $0.group == "cs101" }
        #expect(course?.user == "uid 1000" && course?.memoryGiBHours == 1 && course?.computeHours == 0.5)
        let other = rows.first { $0.group == "" }
        #expect(other?.memoryGiBHours == 2 && other?.computeHours == 0)
        // Half the period.
        #expect(p.usage(since: 1800, now: 7200, records: records, group: "cs101").first?.memoryGiBHours == 0.5)
    }
}
