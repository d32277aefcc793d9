# terraform-compliance on ipamctl's plan: terraform-compliance -p plan.json -f docs/examples/terraform-tools/features
Feature: VPC address blocks

  Scenario: every VPC has an IPv4 block
    Given I have vpc defined
    Then it must contain ipv4

  Scenario: a VPC's primary IPv4 block is a /20 or larger
    Given I have vpc defined
    Then it must contain ipv4
    And it must contain cidr
    And its value must match the ".*/([89]|1[0-9]|20)" regex
