module example.com/vocabsvc

go 1.22
