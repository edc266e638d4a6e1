using System.Runtime.Loader;
using static RlActors.Rewards.Tests.TestGroups;

namespace RlActors.Rewards.Tests;

public class RewardPluginLoaderTests
{
    private static LoadedReward LoadTest(string type) =>
        RewardPluginLoader.Load(new RewardSpec("TestPlugins." + type + ", TestPlugins", PluginPaths.TestPlugins), "/");

    private static string LoadError(RewardSpec spec, string? baseDirectory = null) =>
        Assert.Throws<PluginLoadException>(() => RewardPluginLoader.Load(spec, baseDirectory ?? "/")).Message;

    [Fact]
    public async Task Length_penalty_loads_from_its_built_dll_and_scores_a_group()
    {
        var spec = new RewardSpec("MyLab.Rewards.LengthPenalty, MyLab.Rewards", PluginPaths.MyLabRewards, Weight: 0.1);
        LoadedReward loaded = RewardPluginLoader.Load(spec, "/");

        Assert.Equal("length-penalty", loaded.Name);
        Assert.Same(spec, loaded.Spec);
        RewardGroup g = Group(Problem("+-", 7, 5, 3), 20, "7+5=12\n12-3=9\nA:9", "A:9", "7+5=12\n12-3=9\nA:9\n7+…");
        GroupScores s = await loaded.Factory().ScoreAsync(g, CancellationToken.None);
        s.Validate(g);
        Assert.Equal([-17.0 / 20, -3.0 / 20, -1.0], s.Sequence);
    }

    [Fact]
    public void A_plug_in_gets_its_own_load_context_but_the_hosts_reward_and_environment_types()
    {
        LoadedReward loaded = RewardPluginLoader.Load(
            new RewardSpec("MyLab.Rewards.LengthPenalty, MyLab.Rewards", PluginPaths.MyLabRewards), "/");
        Type type = loaded.ImplementationType!;

        AssemblyLoadContext context = AssemblyLoadContext.GetLoadContext(type.Assembly)!;
        Assert.NotSame(AssemblyLoadContext.Default, context);
        Assert.True(typeof(IRewardFunction).IsAssignableFrom(type));
        Assert.DoesNotContain(context.Assemblies, a => a.GetName().Name is "RlActors.Rewards" or "RlActors.Environments");
    }

    [Fact]
    public void A_relative_assembly_path_is_resolved_against_the_base_directory()
    {
        string relative = Path.GetRelativePath(PluginPaths.RepositoryRoot, PluginPaths.MyLabRewards);
        LoadedReward loaded = RewardPluginLoader.Load(new RewardSpec("MyLab.Rewards.LengthPenalty, MyLab.Rewards", relative), PluginPaths.RepositoryRoot);
        Assert.Equal("length-penalty", loaded.Name);
    }

    [Fact]
    public async Task Loading_the_same_path_twice_gives_the_same_types_and_each_factory_call_a_fresh_instance()
    {
        LoadedReward first = LoadTest("CountingReward");
        LoadedReward second = LoadTest("CountingReward");
        Assert.Same(first.ImplementationType, second.ImplementationType);
        Assert.Same(LoadTest("NaNReward").ImplementationType!.Assembly, first.ImplementationType!.Assembly);

        RewardGroup g = Small();
        double a = (await first.Factory().ScoreAsync(g, CancellationToken.None)).Sequence[0];
        double b = (await first.Factory().ScoreAsync(g, CancellationToken.None)).Sequence[0];
        Assert.NotEqual(a, b);
    }

    [Theory]
    [InlineData("outcome", "outcome", typeof(OutcomeReward))]
    [InlineData("format", "format", typeof(FormatReward))]
    [InlineData("step-correctness", "step-correctness", typeof(StepCorrectnessReward))]
    [InlineData("RlActors.Rewards.OutcomeReward, RlActors.Rewards", "outcome", typeof(OutcomeReward))]
    public void Built_ins_load_by_short_name_or_by_type_name_without_an_assembly(string type, string name, Type implementation)
    {
        LoadedReward loaded = RewardPluginLoader.Load(new RewardSpec(type), "/");
        Assert.Equal(name, loaded.Name);
        Assert.Equal(implementation, loaded.ImplementationType);
        Assert.Equal(name, loaded.Factory().Name);
        Assert.Equal(RewardSpec.DefaultTimeout, loaded.Spec.Timeout);
    }

    [Fact]
    public void A_missing_assembly_is_named_by_its_full_path()
    {
        string dir = Path.Combine(Path.GetTempPath(), "no-such-dir");
        Assert.Equal($"reward plug-in assembly not found: {Path.Combine(dir, "Missing.dll")}",
            LoadError(new RewardSpec("X.Y, Missing", "Missing.dll"), dir));
    }

    [Fact]
    public void A_file_that_is_not_a_dotnet_assembly_is_refused()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rlactors-not-an-assembly-{Guid.NewGuid():N}.dll");
        File.WriteAllText(path, "this is not a PE file");
        try
        {
            Assert.Equal($"reward plug-in file is not a .NET assembly: {path}", LoadError(new RewardSpec("X.Y", path)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void An_unknown_type_lists_the_reward_types_the_assembly_does_have()
    {
        string path = PluginPaths.MyLabRewards;
        Assert.Equal(
            $"reward type 'MyLab.Rewards.Nope' not found in {path}; public reward types there: MyLab.Rewards.LengthPenalty",
            LoadError(new RewardSpec("MyLab.Rewards.Nope, MyLab.Rewards", path)));
        Assert.Equal(
            $"reward type 'MyLab.Rewards.LengthPenalty' names assembly 'Other', but {path} is assembly 'MyLab.Rewards'",
            LoadError(new RewardSpec("MyLab.Rewards.LengthPenalty, Other", path)));
    }

    [Fact]
    public void An_unknown_type_without_an_assembly_says_to_give_the_plug_in_path()
    {
        string message = LoadError(new RewardSpec("MyLab.Rewards.LengthPenalty, MyLab.Rewards"));
        Assert.StartsWith("reward type 'MyLab.Rewards.LengthPenalty, MyLab.Rewards' is not a built-in (outcome, format, step-correctness)", message);
        Assert.Contains("assembly = ", message);
    }

    [Fact]
    public void A_type_that_implements_neither_interface_is_refused()
    {
        Assert.Equal(
            $"type 'TestPlugins.NotAReward' in {PluginPaths.TestPlugins} implements neither RlActors.Rewards.IRewardFunction nor RlActors.Rewards.IAsyncRewardFunction",
            Assert.Throws<PluginLoadException>(() => LoadTest("NotAReward")).Message);
    }

    [Fact]
    public void A_type_without_a_public_parameterless_constructor_is_refused()
    {
        Assert.StartsWith(
            $"type 'TestPlugins.NoDefaultCtorReward' in {PluginPaths.TestPlugins} has no public parameterless constructor",
            Assert.Throws<PluginLoadException>(() => LoadTest("NoDefaultCtorReward")).Message);
    }

    [Fact]
    public void A_constructor_that_throws_is_reported_at_load_time()
    {
        Assert.Equal(
            $"constructor of reward type 'TestPlugins.ThrowingCtorReward' in {PluginPaths.TestPlugins} threw InvalidOperationException: cannot reach the scoring service",
            Assert.Throws<PluginLoadException>(() => LoadTest("ThrowingCtorReward")).Message);
    }

    [Fact]
    public void Bad_specs_and_duplicate_names_are_refused()
    {
        Assert.Contains("weight NaN", LoadError(new RewardSpec("outcome", Weight: double.NaN)));
        Assert.Contains("timeout must be positive", LoadError(new RewardSpec("outcome") { Timeout = TimeSpan.Zero }));
        Assert.StartsWith("reward type is empty", LoadError(new RewardSpec(" ")));

        var e = Assert.Throws<PluginLoadException>(() =>
            RewardPluginLoader.LoadAll([new RewardSpec("outcome"), new RewardSpec("RlActors.Rewards.OutcomeReward, RlActors.Rewards")], "/"));
        Assert.StartsWith("two rewards are named 'outcome'", e.Message);
    }
}
