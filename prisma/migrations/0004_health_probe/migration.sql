-- CreateTable
CREATE TABLE "HealthProbe" (
    "owner" TEXT NOT NULL PRIMARY KEY,
    "checkedAt" DATETIME NOT NULL
);

