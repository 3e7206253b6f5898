using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>Target-initiated endings: graceful shutdown (Async Message, RFC 7143 11.9) and TARGET COLD RESET (11.5.1).</summary>
public class ShutdownProtocolTests
{
    [Test]
    public async Task Shutdown_asks_for_logout_with_an_async_message_and_waits_for_it()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var shutdown = f.Server.ShutdownAsync(TimeSpan.FromSeconds(3));

        var message = await i.ReceiveAsync();
        Assert.That(message.Opcode, Is.EqualTo(IscsiOpcode.AsyncMessage));
        Assert.That(message.Itt, Is.EqualTo(BasicHeaderSegment.ReservedTag));
        Assert.That(message.Header[36], Is.EqualTo((byte)AsyncEvent.LogoutRequest));
        Assert.That(message.U16(42), Is.EqualTo(3), "Parameter3: seconds the initiator has to log out");

        await i.SendAsync(Pdus.Logout(LogoutReason.CloseSession, 9, i.Cid, i.CmdSN, i.ExpStatSN));
        Assert.That((await i.ReceiveAsync()).Opcode, Is.EqualTo(IscsiOpcode.LogoutResponse));
        await i.ExpectClosedAsync();
        var done = await Task.WhenAny(shutdown, Task.Delay(TimeSpan.FromSeconds(2)));
        Assert.That(done, Is.SameAs(shutdown), "shutdown returns once every initiator logged out, before the grace period ends");
        Assert.That(f.Server.ConnectionCount, Is.Zero);
    }

    [Test]
    public async Task Shutdown_closes_initiators_that_do_not_log_out()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var shutdown = f.Server.ShutdownAsync(TimeSpan.FromMilliseconds(300));
        Assert.That((await i.ReceiveAsync()).Opcode, Is.EqualTo(IscsiOpcode.AsyncMessage));
        await i.ExpectClosedAsync();
        Assert.That(await Task.WhenAny(shutdown, Task.Delay(TimeSpan.FromSeconds(5))), Is.SameAs(shutdown));
    }

    [Test]
    public async Task Async_message_takes_a_StatSN()
    {
        // IscsiConnection.Misc.cs RequestLogout sends the Async Message with StatSNUse.Stamp, so the next response
        // repeats its StatSN. The Linux initiator sets ExpStatSN = StatSN + 1 on an Async Message, and IET and SCST
        // advance StatSN for it (only NOP-In with ITT 0xffffffff and R2T do not, RFC 7143 11.19.3, 11.8).
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        _ = f.Server.ShutdownAsync(TimeSpan.FromSeconds(3));
        var message = await i.ReceiveAsync();
        Assert.That(message.Opcode, Is.EqualTo(IscsiOpcode.AsyncMessage));
        await i.SendAsync(Pdus.Logout(LogoutReason.CloseSession, 9, i.Cid, i.CmdSN, message.StatSN + 1));
        var logout = await i.ReceiveAsync();
        Assert.That(logout.StatSN, Is.EqualTo(message.StatSN + 1));
    }

    [Test]
    public async Task Target_cold_reset_answers_then_drops_every_session_of_the_target()
    {
        var f = TargetFixture.Create();
        var a = await f.LoggedInAsync();
        var b = await f.LoggedInAsync();
        uint itt = a.NextItt();
        await a.SendAsync(Pdus.TaskManagement(TaskManagementFunction.TargetColdReset, itt, BasicHeaderSegment.ReservedTag, a.CmdSN, a.ExpStatSN, 0));
        var response = await a.ReceiveAsync();
        Assert.That(response.Opcode, Is.EqualTo(IscsiOpcode.TaskManagementResponse));
        Assert.That(response.Itt, Is.EqualTo(itt));
        Assert.That(response.Response, Is.EqualTo((byte)TaskManagementResponse.FunctionComplete));
        await a.ExpectClosedAsync();
        await b.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.Zero);
        f.AssertNoFaults();
    }
}
