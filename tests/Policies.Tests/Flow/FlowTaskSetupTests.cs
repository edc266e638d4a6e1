using RlActors.Policies.Flow;

namespace RlActors.Policies.Tests.Flow;

/// <summary>The task setup shared by the runtime and the evidence command: task options travel as JSON, pretraining is cached by its settings.</summary>
public sealed class FlowTaskSetupTests : IDisposable
{
    private readonly string cache = Path.Combine(Path.GetTempPath(), "rlactors-flow-cache-" + Guid.NewGuid().ToString("N")[..10]);
    private static readonly FlowModelSpec Model = new() { Width = 16, Layers = 1, TimeFeatures = 4, ClassEmbedding = 4 };
    private static readonly FlowPretrainOptions Pretrain = new() { Steps = 20, BatchSize = 32, Seed = 4 };

    public void Dispose()
    {
        if (Directory.Exists(cache)) Directory.Delete(cache, recursive: true);
    }

    [Fact]
    public void Task_options_round_trip_through_json()
    {
        var options = new FlowTaskOptions
        {
            Kind = FlowTaskKind.LateDecision, Flow2d = new() { Classes = 3, SubModeGap = 0.6, Seed = 9 }, DataDirectory = "/data/fm",
            RewardModel = new() { Hidden = 32, Epochs = 1 },
        };
        Assert.Equal(options.ToJson(), FlowTaskOptions.FromJson(options.ToJson()).ToJson());
        Assert.Equal(options.Flow2d, FlowTaskOptions.FromJson(options.ToJson()).Flow2d);
        Assert.Equal(options.RewardModel, FlowTaskOptions.FromJson(options.ToJson()).RewardModel);
    }

    [Fact]
    public void Pretrained_weights_are_cached_by_their_settings_and_read_back_unchanged()
    {
        using var env = FlowTaskSetup.Open(new FlowTaskOptions(), cache);
        var lines = new List<string>();
        var first = FlowTaskSetup.Pretrained(env, Model, Pretrain, initSeed: 1, cache, lines.Add);
        Assert.Single(Directory.GetFiles(cache));
        var again = FlowTaskSetup.Pretrained(env, Model, Pretrain, initSeed: 1, cache, lines.Add);
        Assert.Equal(first, again);
        Assert.Contains(lines, l => l.Contains("loaded from the cache"));
        var other = FlowTaskSetup.Pretrained(env, Model, Pretrain with { Seed = 5 }, initSeed: 1, cache);
        Assert.NotEqual(first, other);
        Assert.Equal(2, Directory.GetFiles(cache).Length);
        Assert.Equal(first, FlowTaskSetup.Pretrained(env, Model, Pretrain, initSeed: 1, cacheDir: null)); // a function of its settings
    }

    [Fact]
    public void A_model_that_does_not_fit_the_task_is_refused()
    {
        using var env = FlowTaskSetup.Open(new FlowTaskOptions(), null);
        var e = Assert.Throws<ArgumentException>(() => FlowTaskSetup.Pretrained(env, Model with { Classes = 7 }, Pretrain, 1, null));
        Assert.Contains("does not fit", e.Message);
    }
}
