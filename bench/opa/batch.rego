# For TestEquivalentToOPA only: decides every case of input.cases with the benchmark policy
# (triage.rego, ILLUSTRATIVE demo policy), so one opa eval checks thousands of cases.
package carepath.batch

decisions := [d |
	some c in input.cases
	d := data.carepath.triage.decision with input as c
]
