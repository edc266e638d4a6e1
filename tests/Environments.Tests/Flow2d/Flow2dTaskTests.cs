using RlActors.Environments.Flow2d;

namespace RlActors.Environments.Tests.Flow2d;

public class Flow2dTaskTests
{
    [Fact]
    public void Early_decision_reward_is_one_at_the_hidden_mode_and_near_zero_at_the_class_other_modes()
    {
        var task = new Flow2dTask(new Flow2dOptions());
        for (int c = 0; c < task.Classes; c++)
        {
            int preferred = task.PreferredMode(c);
            for (int m = 0; m < task.Options.Modes; m++)
            {
                var (x, y) = task.Centre(c, m);
                double r = task.Reward(c, x, y);
                if (m == preferred) Assert.Equal(1.0, r, 12);
                else Assert.True(r < 1e-4, $"class {c} mode {m} scores {r}");
            }
            // exp(−d²/ℓ²) with ℓ = 1 at distance 0.5 from the target.
            var (tx, ty) = task.Centre(c, preferred);
            Assert.Equal(Math.Exp(-0.25), task.Reward(c, tx + 0.5, ty), 12);
        }
    }

    [Fact]
    public void Late_decision_reward_ignores_the_mode_and_prefers_one_sub_mode_in_each()
    {
        var task = new Flow2dTask(new Flow2dOptions { Kind = Flow2dKind.LateDecision });
        for (int c = 0; c < task.Classes; c++)
            for (int m = 0; m < task.Options.Modes; m++)
                for (int s = 0; s < task.SubModes; s++)
                {
                    var (x, y) = task.Centre(c, m, s);
                    double r = task.Reward(c, x, y);
                    if (s == task.PreferredSubMode(c)) Assert.Equal(1.0, r, 12);
                    else Assert.Equal(Math.Exp(-4), r, 6); // the neighbouring sub-mode, gap 0.8 = 2ℓ away
                }
        Assert.Equal(task.Options.Modes, task.Targets(0).Count);
    }

    [Fact]
    public void The_hidden_preferences_follow_the_seed()
    {
        var a = new Flow2dTask(new Flow2dOptions { Seed = 5, Classes = 16 });
        var b = new Flow2dTask(new Flow2dOptions { Seed = 5, Classes = 16 });
        var c = new Flow2dTask(new Flow2dOptions { Seed = 6, Classes = 16 });
        var prefs = (Flow2dTask t) => Enumerable.Range(0, 16).Select(t.PreferredMode).ToArray();
        Assert.Equal(prefs(a), prefs(b));
        Assert.NotEqual(prefs(a), prefs(c));
    }

    [Fact]
    public void Data_of_a_class_is_an_even_mixture_of_its_own_modes()
    {
        var task = new Flow2dTask(new Flow2dOptions());
        var rng = new SplitMix64(3);
        const int n = 3000;
        var xy = task.SampleBatch(Enumerable.Repeat(1, n).ToArray(), rng);
        var counts = new int[task.Options.Modes];
        for (int i = 0; i < n; i++)
        {
            int nearest = Enumerable.Range(0, task.Options.Modes).MinBy(m =>
            {
                var (cx, cy) = task.Centre(1, m);
                return (xy[2 * i] - cx) * (xy[2 * i] - cx) + (xy[2 * i + 1] - cy) * (xy[2 * i + 1] - cy);
            });
            var (x, y) = task.Centre(1, nearest);
            Assert.True(Math.Sqrt((xy[2 * i] - x) * (xy[2 * i] - x) + (xy[2 * i + 1] - y) * (xy[2 * i + 1] - y)) < 6 * task.Options.ModeStd);
            counts[nearest]++;
        }
        Assert.All(counts, k => Assert.InRange(k, n / 3 - 150, n / 3 + 150));
        // The same seed gives the same data.
        Assert.Equal(xy, task.SampleBatch(Enumerable.Repeat(1, n).ToArray(), new SplitMix64(3)));
        // The pretrained-mixture baseline: about 1/M of the class's data is rewarded.
        Assert.InRange(task.Rewards(1, xy).Average(r => (double)r), 0.30, 0.37);
    }

    [Fact]
    public void Invalid_options_name_their_key()
    {
        Assert.Contains("flow2d.classes", Assert.Throws<ArgumentException>(() => new Flow2dTask(new Flow2dOptions { Classes = 0 })).Message);
        Assert.Contains("flow2d.sub-modes", Assert.Throws<ArgumentException>(() =>
            new Flow2dTask(new Flow2dOptions { Kind = Flow2dKind.LateDecision, SubModes = 1 })).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Flow2dTask(new Flow2dOptions()).Reward(4, 0, 0));
    }
}
