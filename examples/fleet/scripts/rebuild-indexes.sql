EXEC dbo.RebuildIndexes @FragmentationPercent = 30;
