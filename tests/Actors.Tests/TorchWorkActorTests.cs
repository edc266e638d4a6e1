using Akka.Actor;
using Akka.TestKit.Xunit2;
using RlActors.Actors.Learning;

namespace RlActors.Actors.Tests;

/// <summary>A learner's answers reach the experiment in the order it asked: a checkpoint asked for before the final
/// weights must not arrive after them (the experiment stops on the final weights and the checkpoint would be lost).</summary>
public sealed class TorchWorkActorTests : TestKit
{
    private sealed class Echo : TorchWorkActor
    {
        public Echo() => Receive<int>(i => Run(() => i));
    }

    [Fact]
    public void Replies_arrive_in_the_order_the_work_was_asked_for()
    {
        var echo = Sys.ActorOf(Props.Create(() => new Echo()));
        const int n = 3000; // tiny pieces of work finish close together: their piped results race each other
        for (int i = 0; i < n; i++) echo.Tell(i, TestActor);
        var got = new List<int>(n);
        for (int i = 0; i < n; i++) got.Add(ExpectMsg<int>(TimeSpan.FromSeconds(30)));
        int firstOutOfOrder = Enumerable.Range(0, n).FirstOrDefault(i => got[i] != i, -1);
        Assert.True(firstOutOfOrder < 0, $"reply {firstOutOfOrder} was {(firstOutOfOrder < 0 ? 0 : got[firstOutOfOrder])}");
    }
}
