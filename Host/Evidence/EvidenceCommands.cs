using System.CommandLine;
using RlActors.Host.Configuration;

namespace RlActors.Host.Evidence;

/// <summary>
/// The evidence commands: the runs behind the tables and curves of docs/ (sweep: seeds of GRPO experiments; ccl-compare:
/// counter-current learning vs backpropagation; flow-compare: TempFlow-GRPO vs Flow-GRPO; capo-voting: CAPO's voting
/// rules). They are not part of running an experiment; <see cref="AddTo"/> puts them on the command line in one call.
/// </summary>
public static class EvidenceCommands
{
    /// <summary>Adds sweep, capo-voting, ccl-compare and flow-compare to <paramref name="root"/>; <paramref name="args"/>
    /// (the process's arguments) is written into the reports as the command that made them.</summary>
    public static void AddTo(RootCommand root, string[] args)
    {
        var seedsOption = new Option<string>("--seeds") { Description = "Comma-separated seeds, e.g. 1,2,3", DefaultValueFactory = _ => "1,2,3" };
        var reportOption = new Option<string>("--report") { Description = "Folder for the Markdown table and PNG curves", DefaultValueFactory = _ => "docs/learning" };
        var sweepFile = new Argument<string[]>("experiment-files") { Description = "HOCON experiment files (several: a comparison from the same SFT checkpoints)", Arity = ArgumentArity.OneOrMore };
        var comparisonOption = new Option<string?>("--name") { Description = "Name of the comparison report when several files are given (default: their names joined by -vs-)" };
        var sweepSet = new Option<string[]>("--set") { Description = "Override a key (repeatable)", DefaultValueFactory = _ => [] };
        var sweep = new Command("sweep", "Run an experiment over several seeds and write a table and learning curves (evidence runs)")
        {
            sweepFile, seedsOption, sweepSet, reportOption, comparisonOption,
        };
        sweep.SetAction((pr, ct) => Cli.Guard(() =>
        {
            var seeds = new List<ulong>();
            foreach (var part in pr.GetValue(seedsOption)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                seeds.Add(ulong.TryParse(part, out var s) ? s : throw new ConfigError($"--seeds: '{part}' is not a non-negative integer"));
            return Sweep.Execute(pr.GetValue(sweepFile)!, seeds, pr.GetValue(sweepSet) ?? [], pr.GetValue(reportOption)!, pr.GetValue(comparisonOption), Console.Out, ct);
        }));

        var cclModels = new Option<string>("--models") { Description = "Comma-separated models: mlp (784-512-512-10), cnn (5 stride-2 3x3 convolutions 64-64-128-128-256, then 256->10)", DefaultValueFactory = _ => "mlp" };
        var cclMethods = new Option<string>("--methods") { Description = "Comma-separated methods: bp, ccl, output-only (hidden layers frozen at init), frozen-feedback (CCL with fixed feedback weights)", DefaultValueFactory = _ => "bp,ccl,output-only,frozen-feedback" };
        var cclLoss = new Option<string>("--ccl-loss") { Description = "CCL layer losses: batch-normalised, class-template, template-decorrelated, or auto (mlp: the first two; cnn: template-decorrelated)", DefaultValueFactory = _ => "auto" };
        var cclEpochs = new Option<int>("--epochs") { Description = "Epochs per run, equal for every method", DefaultValueFactory = _ => 20 };
        var cclSeeds = new Option<string>("--seeds") { Description = "Comma-separated seeds (weight init and data order)", DefaultValueFactory = _ => "1,2,3" };
        var cclReport = new Option<string>("--report") { Description = "Folder for ccl-compare.md, ccl-compare.jsonl and PNG curves", DefaultValueFactory = _ => "docs/ccl" };
        var cclTrainLimit = new Option<int?>("--train-limit") { Description = "Train on only the first N (shuffled) training images, for a quick smoke run" };
        var cclLr = new Option<string?>("--lr") { Description = "Learning-rate overrides, e.g. bp=0.1,ccl=0.3,cnn:ccl=1 (defaults: bp 0.1; mlp ccl/output-only/frozen-feedback 0.3; cnn ccl/frozen-feedback 1, output-only 0.3)" };
        var cclLrGrid = new Option<string?>("--lr-grid") { Description = "Comma-separated learning rates to run for every method; the best by mean validation accuracy is reported" };
        var cclData = new Option<string?>("--data") { Description = $"Folder with the Fashion-MNIST IDX files (default ${RlActors.Environments.FashionMnist.FashionMnistOptions.DirectoryVariable} or {RlActors.Environments.FashionMnist.FashionMnistOptions.DefaultDirectory})" };
        var cclValidation = new Option<int>("--validation-size") { Description = "Images of the 60k training file held out for validation (model selection)", DefaultValueFactory = _ => 5000 };
        var cclBatch = new Option<int>("--batch-size") { Description = "Examples per SGD step", DefaultValueFactory = _ => 256 };
        var cclCompare = new Command("ccl-compare", "Counter-current learning vs backpropagation (and the output-only and frozen-feedback controls) on Fashion-MNIST: " +
            "equal epochs per seed, best epoch by validation accuracy, test accuracy at that epoch, time and FLOPs per epoch; writes a Markdown table and PNG curves")
        {
            cclModels, cclMethods, cclLoss, cclEpochs, cclSeeds, cclReport, cclTrainLimit, cclLr, cclLrGrid, cclData, cclValidation, cclBatch,
        };
        cclCompare.SetAction((pr, ct) => Cli.Guard(() => CclCompare.Execute(new CclCompare.Args
        {
            Models = pr.GetValue(cclModels)!, Methods = pr.GetValue(cclMethods)!, CclLoss = pr.GetValue(cclLoss)!, Epochs = pr.GetValue(cclEpochs),
            Seeds = pr.GetValue(cclSeeds)!, Report = pr.GetValue(cclReport)!, TrainLimit = pr.GetValue(cclTrainLimit), LearningRates = pr.GetValue(cclLr),
            LearningRateGrid = pr.GetValue(cclLrGrid), DataDirectory = pr.GetValue(cclData), ValidationSize = pr.GetValue(cclValidation),
            BatchSize = pr.GetValue(cclBatch), CommandLine = "dotnet run --project Host -c Release -- " + string.Join(' ', args),
        }, Console.Out, ct)));

        var flowFile = new Argument<string>("experiment-file") { Description = "A kind = \"flow\" experiment file, e.g. examples/flow2d-tempflow.conf (task, model, pretraining, hyperparameters)" };
        var flowSet = new Option<string[]>("--set") { Description = "Override a key of the file (repeatable)", DefaultValueFactory = _ => [] };
        var flowSeeds = new Option<string>("--seeds") { Description = "Comma-separated seeds (each pretrains its own model, shared by every method)", DefaultValueFactory = _ => "1,2,3" };
        var flowObjectives = new Option<string>("--objectives") { Description = "Comma-separated objectives: flow-grpo, tempflow, branch-only, weight-only", DefaultValueFactory = _ => "flow-grpo,tempflow,branch-only,weight-only" };
        var flowSteps = new Option<int?>("--steps") { Description = "RL steps per run (default: the file's flow.steps)" };
        var flowEvalEvery = new Option<int?>("--eval-every") { Description = "Evaluate the ODE reward every N steps (default: the file's flow.eval-every)" };
        var flowThreshold = new Option<double>("--threshold") { Description = "ODE reward threshold whose first crossing is reported", DefaultValueFactory = _ => 0.9 };
        var flowStopAt = new Option<bool>("--stop-at-threshold") { Description = "End each run when it reaches the threshold (faster; no mean curves then)" };
        var flowReport = new Option<string>("--report") { Description = "Folder for <name>.md and the PNG curves", DefaultValueFactory = _ => "docs/flow" };
        var flowName = new Option<string?>("--name") { Description = "Report name (default: the task: early, late or fashion)" };
        var flowCompare = new Command("flow-compare", "TempFlow-GRPO vs Flow-GRPO and the ablations from the same pretrained model per seed: " +
            "steps and NFE to an ODE-reward threshold per method and seed, their ratio to Flow-GRPO, and curves of reward vs steps and vs NFE")
        {
            flowFile, flowSet, flowSeeds, flowObjectives, flowSteps, flowEvalEvery, flowThreshold, flowStopAt, flowReport, flowName,
        };
        flowCompare.SetAction((pr, ct) => Cli.Guard(() => Task.FromResult(FlowCompare.Execute(new FlowCompare.Args
        {
            File = pr.GetValue(flowFile)!, Overrides = pr.GetValue(flowSet) ?? [], Seeds = pr.GetValue(flowSeeds)!, Objectives = pr.GetValue(flowObjectives)!,
            Steps = pr.GetValue(flowSteps), EvalEvery = pr.GetValue(flowEvalEvery), Threshold = pr.GetValue(flowThreshold), StopAtThreshold = pr.GetValue(flowStopAt),
            Report = pr.GetValue(flowReport)!, Name = pr.GetValue(flowName), CommandLine = "dotnet run --project Host -c Release -- " + string.Join(' ', args),
        }, Console.Out, ct))));

        var votingResponses = new Option<int>("--responses") { Description = "Synthetic responses to critique", DefaultValueFactory = _ => 2000 };
        var votingWrongRate = new Option<double>("--wrong-rate") { Description = "Probability that a step of a response is wrong (0.4 matches the issue's calibration)", DefaultValueFactory = _ => 0.4 };
        var votingFlip = new Option<double>("--flip") { Description = "Per-step error rate of the noisy judge", DefaultValueFactory = _ => 0.2 };
        var votingCorrelations = new Option<string>("--correlations") { Description = "Comma-separated error correlations across critiques", DefaultValueFactory = _ => "0,0.3" };
        var votingNs = new Option<string>("--ns") { Description = "Comma-separated numbers of critiques", DefaultValueFactory = _ => "1,2,4,8" };
        var votingSeed = new Option<ulong>("--seed") { Description = "Seed of the responses and the judge", DefaultValueFactory = _ => 5 };
        var votingReport = new Option<string>("--report") { Description = "Folder for capo-voting.md and capo-voting.png", DefaultValueFactory = _ => "docs/capo" };
        var capoVoting = new Command("capo-voting", "CAPO evidence: F1 of each voting rule against the oracle for several numbers of critiques (noisy-oracle judge)")
        {
            votingResponses, votingWrongRate, votingFlip, votingCorrelations, votingNs, votingSeed, votingReport,
        };
        capoVoting.SetAction((pr, _) => Cli.Guard(() =>
        {
            List<T> ParseList<T>(string option, string text, string expected, Func<string, (bool, T)> parse) =>
                text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(p => parse(p) is (true, var v) ? v : throw new ConfigError($"{option} {text}: '{p}' is not {expected}")).ToList();
            var correlations = ParseList("--correlations", pr.GetValue(votingCorrelations)!, "a number (e.g. 0,0.3)",
                p => (double.TryParse(p, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x), x));
            var ns = ParseList("--ns", pr.GetValue(votingNs)!, "a whole number (e.g. 1,2,4,8)", p => (int.TryParse(p, out var x), x));
            return Task.FromResult(CapoVoting.Execute(new CapoVoting.Args(pr.GetValue(votingResponses), pr.GetValue(votingWrongRate), pr.GetValue(votingFlip),
                correlations, ns, pr.GetValue(votingSeed), pr.GetValue(votingReport)!), Console.Out));
        }));

        root.Subcommands.Add(sweep);
        root.Subcommands.Add(capoVoting);
        root.Subcommands.Add(cclCompare);
        root.Subcommands.Add(flowCompare);
        Cli.RejectFolders(sweepFile, "experiment files, e.g. examples/arithmetic-grpo.conf");
        Cli.RejectFolders(flowFile, "a kind = \"flow\" experiment file, e.g. examples/flow2d-tempflow.conf");
    }
}
