global using NUnit.Framework;

// Integration tests start real processes on real ports: run fixtures one at a time.
[assembly: NonParallelizable]
[assembly: LevelOfParallelism(1)]
