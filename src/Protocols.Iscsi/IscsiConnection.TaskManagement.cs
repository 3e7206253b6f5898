using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Scsi;

namespace StorageAppliance.Protocols.Iscsi;

// Task Management Function Request / Response (RFC 7143 11.5, 11.6; SAM-5 7).
public sealed partial class IscsiConnection
{
    private void OnTaskManagement(in PduFrame frame)
    {
        var session = _session!;
        var req = new TaskManagementRequest(frame.Header);
        if (!req.Immediate)
        {
            var check = session.Check(req.CmdSN);
            if (check is CmdSNCheck.TooLow or CmdSNCheck.TooHigh)
                return; // RFC 7143 4.2.2.1: silently ignored
            session.Accept(req.CmdSN);
        }
        if (session.IsDiscovery)
        {
            // Only Text and Logout belong to a discovery session (RFC 7143 4.3).
            EnqueueReject(RejectReason.ProtocolError, in frame);
            if (!req.Immediate)
                session.Retire();
            return;
        }
        ulong lun = LunEncoding.Read(frame.Header.ReadOnlySpan.Slice(8, 8));
        var target = session.Target!;
        IscsiLog.TaskManagement(_log, Id, req.Function.ToString(), lun, req.ReferencedTaskTag);

        switch (req.Function)
        {
            case TaskManagementFunction.AbortTask:
                AbortTask(req, lun, session);
                return;
            case TaskManagementFunction.AbortTaskSet:
            case TaskManagementFunction.ClearTaskSet:
                {
                    if (target.Scsi.GetLogicalUnit(lun) is null)
                    {
                        RespondTmf(req, TaskManagementResponse.LunDoesNotExist);
                        return;
                    }
                    // ABORT TASK SET: this nexus's tasks on the LU; CLEAR TASK SET: every nexus's (SAM-5 7.3, 7.5).
                    var waits = new List<Task>();
                    if (req.Function == TaskManagementFunction.AbortTaskSet)
                    {
                        AbortTasksWhere(t => t.Scsi.Lun == lun && !IsSameTag(t, req.InitiatorTaskTag), waits);
                    }
                    else
                    {
                        foreach (var c in _server.ConnectionsOf(target))
                            c.AbortTasksWhere(t => t.Scsi.Lun == lun, waits);
                        var lu = target.Scsi.GetLogicalUnit(lun);
                        foreach (var other in target.Scsi.Nexuses)
                            if (other.Id != session.Nexus!.Id)
                                lu?.EstablishUnitAttention(other, SenseCode.CommandsClearedByAnotherInitiator);
                    }
                    RespondTmfAfter(req, waits, TaskManagementResponse.FunctionComplete, null);
                    return;
                }
            case TaskManagementFunction.LogicalUnitReset:
                {
                    if (target.Scsi.GetLogicalUnit(lun) is null)
                    {
                        RespondTmf(req, TaskManagementResponse.LunDoesNotExist);
                        return;
                    }
                    var waits = new List<Task>();
                    foreach (var c in _server.ConnectionsOf(target))
                        c.AbortTasksWhere(t => t.Scsi.Lun == lun, waits);
                    var nexus = session.Nexus!;
                    RespondTmfAfter(req, waits, TaskManagementResponse.FunctionComplete, () => target.Scsi.ResetLogicalUnit(lun, nexus));
                    return;
                }
            case TaskManagementFunction.TargetWarmReset:
            case TaskManagementFunction.TargetColdReset:
                {
                    bool cold = req.Function == TaskManagementFunction.TargetColdReset;
                    var waits = new List<Task>();
                    foreach (var c in _server.ConnectionsOf(target))
                        c.AbortTasksWhere(_ => true, waits);
                    var nexus = session.Nexus!;
                    RespondTmfAfter(req, waits, TaskManagementResponse.FunctionComplete, () =>
                    {
                        target.Scsi.ResetTarget(nexus, cold);
                        if (cold)
                        {
                            // RFC 7143 11.5.1: after a cold reset response the target drops all sessions of the target.
                            _ = DropTargetSessionsAfterResponseAsync(target);
                        }
                    });
                    return;
                }
            case TaskManagementFunction.ClearAca:
                // ACA is never established (NACA is not supported), so there is nothing to clear.
                RespondTmf(req, TaskManagementResponse.FunctionComplete);
                return;
            case TaskManagementFunction.TaskReassign:
                // RFC 7143 11.5.1: allegiance reassignment needs ErrorRecoveryLevel 2.
                RespondTmf(req, TaskManagementResponse.TaskAllegianceReassignmentNotSupported);
                return;
            default:
                RespondTmf(req, TaskManagementResponse.FunctionRejected);
                return;
        }
    }

    private static bool IsSameTag(IscsiTask t, uint itt) => t.Itt == itt;

    private void AbortTask(TaskManagementRequest req, ulong lun, IscsiSession session)
    {
        IscsiTask? task;
        lock (_taskLock)
            _tasks.TryGetValue(req.ReferencedTaskTag, out task);
        if (task is null)
        {
            // RFC 7143 11.5.1: if the referenced command was never received but RefCmdSN is in the window
            // and before this request, it is considered received and "Function complete" is returned.
            uint exp = session.ExpCmdSN;
            bool neverReceived = !req.Immediate
                ? (int)(req.RefCmdSN - exp) >= 0 && (int)(req.RefCmdSN - req.CmdSN) < 0
                : (int)(req.RefCmdSN - exp) >= 0 && (int)(req.RefCmdSN - session.MaxCmdSN) <= 0;
            RespondTmf(req, neverReceived ? TaskManagementResponse.FunctionComplete : TaskManagementResponse.TaskDoesNotExist);
            return;
        }
        var waits = new List<Task>();
        AbortTasksWhere(t => ReferenceEquals(t, task), waits);
        RespondTmfAfter(req, waits, TaskManagementResponse.FunctionComplete, null);
    }

    /// <summary>
    /// Aborts the matching tasks of this connection. A task still receiving data ends now; a task that is
    /// executing is marked, and its completion is added to <paramref name="waits"/> so the TMF response
    /// follows it (RFC 7143 4.2.3.3: the response is sent after the affected tasks are terminated).
    /// </summary>
    internal void AbortTasksWhere(Func<IscsiTask, bool> match, List<Task> waits)
    {
        var ended = new List<IscsiTask>();
        lock (_taskLock)
        {
            foreach (var t in _tasks.Values)
            {
                if (t.Aborted || !match(t))
                    continue;
                t.Aborted = true;
                if (t.State == IscsiTaskState.ReceivingData)
                {
                    ended.Add(t);
                }
                else if (t.State == IscsiTaskState.Executing)
                {
                    t.Finished ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    waits.Add(t.Finished.Task);
                }
            }
            foreach (var t in ended)
            {
                _tasks.Remove(t.Itt);
                _forgottenSet.Add(t.Itt);
                _forgottenItts.Enqueue(t.Itt);
            }
        }
        foreach (var t in ended)
        {
            if (!t.Immediate)
                _session?.Retire();
            ReturnTask(t);
        }
    }

    private void RespondTmf(TaskManagementRequest req, TaskManagementResponse response)
    {
        Span<byte> bhs = stackalloc byte[BasicHeaderSegment.Length];
        TaskManagementResponsePdu.WriteHeader(bhs, req.InitiatorTaskTag, response);
        if (!req.Immediate)
            _session!.Retire();
        EnqueuePrebuilt(bhs, default, StatSNUse.Advance);
    }

    private void RespondTmfAfter(TaskManagementRequest req, List<Task> waits, TaskManagementResponse response, Action? thenBeforeResponse)
    {
        if (waits.Count == 0)
        {
            thenBeforeResponse?.Invoke();
            RespondTmf(req, response);
            return;
        }
        _ = Task.WhenAll(waits).ContinueWith(_ =>
        {
            thenBeforeResponse?.Invoke();
            RespondTmf(req, response);
        }, TaskScheduler.Default);
    }

    private async Task DropTargetSessionsAfterResponseAsync(IscsiTargetNode target)
    {
        await WaitForOutputIdleAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        foreach (var c in _server.ConnectionsOf(target))
            c.Abort("target cold reset");
    }
}
